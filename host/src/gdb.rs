//! A minimal client of the GDB remote protocol, for QEMU's gdbstub: a breakpoint, continue until
//! it is hit, thread selection, memory writes and detach, over a Unix socket, every wait bounded.
//!
//! Why not a crate: the Rust GDB crates (gdbstub) are the *server* side; the client side needs
//! these six packets, and their framing is a few lines (`$payload#checksum`, `+` acknowledges).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A connection to a gdbstub.
pub struct Gdb {
    sock: UnixStream,
    buf: Vec<u8>,
}

/// Where a `continue` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The thread (QEMU: CPU index + 1) that stopped, when the stub says.
    pub thread: Option<u32>,
}

/// The checksum of a packet's payload: the sum of its bytes modulo 256.
pub fn checksum(payload: &[u8]) -> u8 {
    payload.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// `$payload#xx`.
pub fn frame(payload: &str) -> Vec<u8> {
    format!("${payload}#{:02x}", checksum(payload.as_bytes())).into_bytes()
}

/// The thread of a stop reply (`T05thread:03;...`), if it names one.
pub fn stop_thread(reply: &str) -> Option<u32> {
    reply
        .split(';')
        .find_map(|f| {
            let f = f.get(3..).filter(|_| f.starts_with('T')).unwrap_or(f);
            f.strip_prefix("thread:")
        })
        .and_then(|t| {
            // `pP.T` (multiprocess) or `T`.
            let t = t.rsplit('.').next().unwrap_or(t);
            u32::from_str_radix(t, 16).ok()
        })
}

impl Gdb {
    /// Connects to the stub listening on `path`, waiting up to `within` for it to appear (QEMU
    /// creates the socket while it starts).
    pub fn connect(path: &Path, within: Duration) -> Result<Gdb> {
        let started = Instant::now();
        loop {
            match UnixStream::connect(path) {
                Ok(sock) => {
                    return Ok(Gdb {
                        sock,
                        buf: Vec::new(),
                    });
                }
                Err(e) if started.elapsed() >= within => {
                    return Err(e).with_context(|| {
                        format!("connecting to QEMU's gdbstub at {}", path.display())
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Sends one packet and returns the stub's reply, waiting up to `timeout` for it.
    pub fn request(&mut self, payload: &str, timeout: Duration) -> Result<String> {
        self.sock
            .write_all(&frame(payload))
            .with_context(|| format!("sending `{payload}` to the gdbstub"))?;
        self.reply(timeout, &mut || false)
            .with_context(|| format!("the gdbstub's answer to `{payload}`"))
    }

    /// Reads the next packet (acknowledging it), skipping acknowledgements and console output
    /// (`O...`). `give_up` is asked between reads (tickscope interrupted).
    fn reply(&mut self, timeout: Duration, give_up: &mut dyn FnMut() -> bool) -> Result<String> {
        let started = Instant::now();
        self.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .context("setting a read timeout on the gdbstub socket")?;
        loop {
            while let Some(start) = self.buf.iter().position(|&b| b == b'$') {
                let Some(hash) = self.buf[start..].iter().position(|&b| b == b'#') else {
                    break;
                };
                let end = start + hash + 3;
                if self.buf.len() < end {
                    break;
                }
                let payload = self.buf[start + 1..start + hash].to_vec();
                self.buf.drain(..end);
                // Best effort: after an exit (`W`) the stub may have closed already.
                let _ = self.sock.write_all(b"+");
                let text = String::from_utf8_lossy(&payload).into_owned();
                if text.starts_with('O') && text != "OK" {
                    continue;
                }
                return Ok(text);
            }
            if give_up() {
                bail!("interrupted");
            }
            if started.elapsed() >= timeout {
                bail!("no answer within {:.0} s", timeout.as_secs_f64());
            }
            let mut chunk = [0u8; 4096];
            match self.sock.read(&mut chunk) {
                Ok(0) => bail!("QEMU closed the gdbstub connection (did the guest end?)"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e).context("reading from the gdbstub"),
            }
        }
    }

    fn expect_ok(&mut self, payload: &str) -> Result<()> {
        match self.request(payload, Duration::from_secs(10))?.as_str() {
            "OK" => Ok(()),
            other => bail!("the gdbstub refused `{payload}`: `{other}`"),
        }
    }

    /// A software breakpoint at a virtual address (QEMU checks it at translation: the stop is at
    /// exactly that instruction).
    pub fn set_breakpoint(&mut self, addr: u64) -> Result<()> {
        self.expect_ok(&format!("Z0,{addr:x},4"))
    }

    /// Removes it.
    pub fn clear_breakpoint(&mut self, addr: u64) -> Result<()> {
        self.expect_ok(&format!("z0,{addr:x},4"))
    }

    /// Continues until the machine stops (a breakpoint), for up to `timeout`; an exit of the
    /// guest (`W`/`X`) or `give_up()` is an error.
    pub fn continue_until_stop(
        &mut self,
        timeout: Duration,
        give_up: &mut dyn FnMut() -> bool,
    ) -> Result<Stop> {
        self.sock.write_all(&frame("c"))?;
        let reply = self.reply(timeout, give_up)?;
        match reply.as_bytes().first() {
            Some(b'T') | Some(b'S') => Ok(Stop {
                thread: stop_thread(&reply),
            }),
            Some(b'W') | Some(b'X') => bail!("the guest ended before the breakpoint (`{reply}`)"),
            _ => bail!("unexpected answer to `c`: `{reply}`"),
        }
    }

    /// Makes `thread` the one memory accesses go through (its page tables translate addresses).
    pub fn select_thread(&mut self, thread: u32) -> Result<()> {
        self.expect_ok(&format!("Hg{thread:x}"))
    }

    /// Writes `data` at virtual address `addr` (through the selected thread's page tables).
    pub fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        for (i, chunk) in data.chunks(1024).enumerate() {
            let at = addr + (i * 1024) as u64;
            let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
            self.expect_ok(&format!("M{at:x},{:x}:{hex}", chunk.len()))?;
        }
        Ok(())
    }

    /// Detaches: QEMU removes the breakpoints and lets the machine run.
    pub fn detach(&mut self) -> Result<()> {
        self.expect_ok("D")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_framed_with_their_checksum() {
        // `c` is 0x63; gdb's documentation example.
        assert_eq!(frame("c"), b"$c#63");
        assert_eq!(frame("OK"), b"$OK#9a");
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn stop_replies_name_their_thread() {
        assert_eq!(stop_thread("T05thread:03;"), Some(3));
        assert_eq!(stop_thread("T05thread:p01.0a;"), Some(10));
        assert_eq!(stop_thread("T05swbreak:;thread:01;"), Some(1));
        assert_eq!(stop_thread("S05"), None);
    }

    #[test]
    fn a_stub_that_answers_is_driven_and_one_that_exits_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gdb.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let stub = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            // Answer each packet: OK, then a stop, then an exit.
            for answer in ["OK", "T05thread:02;", "W00"] {
                // Until a whole packet (`...#xx`) has arrived.
                while got
                    .iter()
                    .rposition(|&b| b == b'#')
                    .is_none_or(|h| got.len() < h + 3)
                {
                    let n = s.read(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                got.clear();
                s.write_all(b"+").unwrap();
                s.write_all(&frame(answer)).unwrap();
            }
        });
        let mut g = Gdb::connect(&path, Duration::from_secs(5)).unwrap();
        g.set_breakpoint(0x2476dc).unwrap();
        let stop = g
            .continue_until_stop(Duration::from_secs(5), &mut || false)
            .unwrap();
        assert_eq!(stop.thread, Some(2));
        let e = g
            .continue_until_stop(Duration::from_secs(5), &mut || false)
            .unwrap_err();
        assert!(e.to_string().contains("ended before the breakpoint"), "{e}");
        stub.join().unwrap();
    }
}
