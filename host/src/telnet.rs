//! The receive side of a telnet / RFC 2217 serial port (what ser2net and `labgrid-client export`
//! serve): option negotiation stripped and answered, subnegotiations skipped, the escaped 0xFF
//! (`IAC IAC`) restored, so the port's bytes come out exactly as the board sent them.
//!
//! Why our own: the wire format is binary and a capture must be byte-exact; the crates found
//! (telnet clients for terminals) either buffer by lines or give no control over the options a
//! binary capture needs (BINARY both ways, RFC 2217's baud rate). The protocol part is small.

/// Interpret As Command.
pub const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;
/// RFC 856: 8-bit data.
const BINARY: u8 = 0;
/// RFC 858: suppress go-ahead.
const SGA: u8 = 3;
/// RFC 2217: COM-PORT-OPTION.
pub const COM_PORT: u8 = 44;
/// RFC 2217 client command SET-BAUDRATE.
const SET_BAUDRATE: u8 = 1;

/// Options we accept in either direction.
fn wanted(opt: u8) -> bool {
    matches!(opt, BINARY | SGA | COM_PORT)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    Verb(u8),
    Sb,
    SbIac,
}

/// A telnet receive-side decoder.
#[derive(Debug, Clone)]
pub struct Telnet {
    state: State,
    /// Options the server has agreed to perform (its WILL that we accepted).
    him: [bool; 256],
    /// Options we perform (our WILL it accepted, or its DO we accepted).
    us: [bool; 256],
    /// The last data byte was a CR (NVT's CR NUL, outside BINARY).
    after_cr: bool,
}

impl Default for Telnet {
    fn default() -> Self {
        Telnet {
            state: State::Data,
            him: [false; 256],
            us: [false; 256],
            after_cr: false,
        }
    }
}

impl Telnet {
    /// What a client says first: binary both ways, no go-ahead, the COM port option, and (RFC
    /// 2217) the baud rate when given.
    pub fn opening(&mut self, baud: Option<u32>, rfc2217: bool) -> Vec<u8> {
        let mut v = vec![IAC, WILL, BINARY, IAC, DO, BINARY, IAC, DO, SGA];
        self.us[BINARY as usize] = true;
        if rfc2217 {
            v.extend_from_slice(&[IAC, WILL, COM_PORT]);
            self.us[COM_PORT as usize] = true;
            if let Some(b) = baud {
                v.extend_from_slice(&[IAC, SB, COM_PORT, SET_BAUDRATE]);
                for byte in b.to_be_bytes() {
                    v.push(byte);
                    if byte == IAC {
                        v.push(IAC);
                    }
                }
                v.extend_from_slice(&[IAC, SE]);
            }
        }
        v
    }

    /// Feeds received bytes: the port's data goes to `data`, answers to negotiation to `reply`
    /// (to be sent back). Sequences split across calls are carried over.
    pub fn feed(&mut self, input: &[u8], data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        for &b in input {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, _) => {
                    // Outside BINARY a CR is sent as CR NUL (NVT): the NUL is not data.
                    if !(b == 0 && self.after_cr && !self.him[BINARY as usize]) {
                        data.push(b);
                    }
                    self.after_cr = b == b'\r';
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    self.after_cr = false;
                    State::Data
                }
                (State::Iac, WILL | WONT | DO | DONT) => State::Verb(b),
                (State::Iac, SB) => State::Sb,
                // NOP, GA, BRK, ...: nothing for a capture.
                (State::Iac, _) => State::Data,
                (State::Verb(verb), opt) => {
                    self.negotiate(verb, opt, reply);
                    State::Data
                }
                (State::Sb, IAC) => State::SbIac,
                (State::Sb, _) => State::Sb,
                (State::SbIac, SE) => State::Data,
                // IAC IAC inside a subnegotiation is a data byte of it.
                (State::SbIac, _) => State::Sb,
            };
        }
    }

    /// Answers a WILL/WONT/DO/DONT only when it changes an option's state (no negotiation loops).
    fn negotiate(&mut self, verb: u8, opt: u8, reply: &mut Vec<u8>) {
        let i = opt as usize;
        match verb {
            WILL if !self.him[i] => {
                let yes = wanted(opt);
                self.him[i] = yes;
                reply.extend_from_slice(&[IAC, if yes { DO } else { DONT }, opt]);
            }
            WONT if self.him[i] => {
                self.him[i] = false;
                reply.extend_from_slice(&[IAC, DONT, opt]);
            }
            DO if !self.us[i] => {
                let yes = wanted(opt);
                self.us[i] = yes;
                reply.extend_from_slice(&[IAC, if yes { WILL } else { WONT }, opt]);
            }
            DONT if self.us[i] => {
                self.us[i] = false;
                reply.extend_from_slice(&[IAC, WONT, opt]);
            }
            _ => {}
        }
    }
}

/// Escapes data for a telnet stream (0xFF doubled): what a server does, for tests and tools.
pub fn escape(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + data.len() / 64);
    for &b in data {
        v.push(b);
        if b == IAC {
            v.push(IAC);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut Telnet, chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let (mut d, mut r) = (Vec::new(), Vec::new());
        for c in chunks {
            t.feed(c, &mut d, &mut r);
        }
        (d, r)
    }

    #[test]
    fn escaped_ff_is_restored_and_negotiation_stripped_across_chunks() {
        let payload: Vec<u8> = (0..=255u8).chain([IAC, IAC, 0, 13, 0]).collect();
        let mut stream = vec![IAC, DO, BINARY, IAC, WILL, BINARY, IAC, 241];
        stream.extend(escape(&payload[..100]));
        // A subnegotiation with an escaped IAC inside, then the rest of the data.
        stream.extend_from_slice(&[IAC, SB, COM_PORT, 101, IAC, IAC, 7, IAC, SE]);
        stream.extend(escape(&payload[100..]));
        // Every split point: sequences cut anywhere decode the same.
        for cut in 0..stream.len() {
            let mut t = Telnet::default();
            let (d, _) = run(&mut t, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(d, payload, "split at {cut}");
        }
    }

    #[test]
    fn answers_once_and_refuses_what_it_does_not_want() {
        let mut t = Telnet::default();
        let open = t.opening(Some(115_200), true);
        assert!(open.ends_with(&[IAC, SE]));
        // The server agrees to what we asked (no answer needed), asks for ECHO (refused), and
        // offers binary (accepted once).
        let (d, r) = run(
            &mut t,
            &[&[
                IAC, DO, BINARY, IAC, DO, 1, IAC, WILL, BINARY, IAC, WILL, BINARY,
            ]],
        );
        assert!(d.is_empty());
        assert_eq!(r, [IAC, WONT, 1, IAC, DO, BINARY]);
    }

    #[test]
    fn outside_binary_cr_nul_is_cr() {
        let mut t = Telnet::default();
        let (d, _) = run(&mut t, &[b"a\r\0b\r\n"]);
        assert_eq!(d, b"a\rb\r\n");
        let (d, _) = run(&mut t, &[&[IAC, WILL, BINARY, b'\r', 0]]);
        assert_eq!(d, b"\r\0");
    }
}
