//! A board's serial port (or a pseudo-terminal), one exported over the network (`tcp://HOST:PORT`
//! raw, `rfc2217://HOST:PORT` telnet/RFC 2217 as ser2net and labgrid serve it), or a command's
//! output (`exec:COMMAND`: a console server reached over ssh, as the Enzian's is): read until the
//! run's end-of-run trailer, the port closing, a timeout or an interrupt, keeping every byte that
//! arrived.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use tickscope_core::wire::Message;

use super::{Capture, End, Expect};
use crate::decode::{Decoder, Sink};
use crate::machine::{Emulation, Facts};
use crate::progress::Progress;
use crate::{fail, status};

/// A capture from a serial port.
#[derive(Debug, Clone)]
pub struct Request {
    /// Device path.
    pub port: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// Give up after this long without the trailer.
    pub timeout: Duration,
    /// Firmware ELF for defmt logs.
    pub elf: Option<PathBuf>,
    /// `hardware`, or `tcg`/`icount` for an emulator's UART.
    pub emulation: Emulation,
    /// No progress display.
    pub quiet: bool,
}

/// Notes the end-of-run trailer while the bytes stream in.
#[derive(Default)]
struct Watch {
    trailer: bool,
}

impl Sink for Watch {
    fn message(&mut self, _seq: u32, msg: &Message) {
        if matches!(msg, Message::End(_)) {
            self.trailer = true;
        }
    }
}

/// Where the bytes come from.
enum Port {
    /// A local device.
    Device(Box<dyn serialport::SerialPort>),
    /// A network port; with telnet decoding for `rfc2217://`.
    Net {
        stream: std::net::TcpStream,
        telnet: Option<Box<crate::telnet::Telnet>>,
        raw: Vec<u8>,
    },
    /// A command's standard output (`exec:COMMAND`, run by `sh -c`), read by a thread.
    Exec {
        child: std::process::Child,
        chunks: std::sync::mpsc::Receiver<Vec<u8>>,
        stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    },
}

impl Drop for Port {
    fn drop(&mut self) {
        if let Port::Exec { child, .. } = self {
            // The command (ssh to a console server, say) ends with the capture.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Port {
    fn open(req: &Request) -> Result<Port> {
        let name = req.port.to_string_lossy().into_owned();
        if let Some(command) = name.strip_prefix("exec:") {
            return Port::exec(command);
        }
        let net = name
            .strip_prefix("rfc2217://")
            .map(|a| (a, true))
            .or_else(|| name.strip_prefix("tcp://").map(|a| (a, false)));
        let Some((addr, rfc2217)) = net else {
            let port = serialport::new(&name, req.baud)
                .timeout(Duration::from_millis(200))
                .open()
                .map_err(|e| {
                    fail(
                        status::CONFIG,
                        format!("cannot open {name} at {} baud: {e}", req.baud),
                    )
                })?;
            return Ok(Port::Device(port));
        };
        use std::io::Write;
        use std::net::ToSocketAddrs;
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| fail(status::CONFIG, format!("{name}: not HOST:PORT ({e})")))?
            .collect();
        let stream = addrs
            .iter()
            .find_map(|a| std::net::TcpStream::connect_timeout(a, Duration::from_secs(10)).ok())
            .ok_or_else(|| fail(status::CONFIG, format!("cannot connect to {name}")))?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let _ = stream.set_nodelay(true);
        let telnet = if rfc2217 {
            let mut t = crate::telnet::Telnet::default();
            let open = t.opening(Some(req.baud), true);
            (&stream).write_all(&open)?;
            Some(Box::new(t))
        } else {
            None
        };
        Ok(Port::Net {
            stream,
            telnet,
            raw: vec![0u8; 64 * 1024],
        })
    }

    /// Starts `command` with `sh -c`, its output read in chunks by a thread.
    fn exec(command: &str) -> Result<Port> {
        use std::process::{Command, Stdio};
        if command.trim().is_empty() {
            return Err(fail(
                status::CONFIG,
                "exec: needs a command (exec:'ssh gateway console board')",
            ));
        }
        let mut child = Command::new("sh")
            .args(["-c", command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(status::CONFIG, format!("cannot run `{command}`: {e}")))?;
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let (tx, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        Ok(Port::Exec {
            child,
            chunks,
            stderr: Some(stderr),
        })
    }

    /// What the command wrote on stderr (after it ended).
    fn stderr(&mut self) -> Vec<u8> {
        match self {
            Port::Exec { child, stderr, .. } => {
                let _ = child.kill();
                let _ = child.wait();
                stderr
                    .take()
                    .and_then(|h| h.join().ok())
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// Reads what arrived into `out` (port data only): `Ok(None)` at end of input.
    fn read(&mut self, out: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
        out.clear();
        match self {
            Port::Device(p) => {
                out.resize(64 * 1024, 0);
                let n = p.read(out)?;
                out.truncate(n);
                Ok((n > 0).then_some(n))
            }
            Port::Net {
                stream,
                telnet,
                raw,
            } => {
                let n = stream.read(raw)?;
                if n == 0 {
                    return Ok(None);
                }
                match telnet {
                    Some(t) => {
                        let mut reply = Vec::new();
                        t.feed(&raw[..n], out, &mut reply);
                        if !reply.is_empty() {
                            use std::io::Write;
                            stream.write_all(&reply)?;
                        }
                    }
                    None => out.extend_from_slice(&raw[..n]),
                }
                Ok(Some(out.len()))
            }
            Port::Exec { chunks, .. } => match chunks.recv_timeout(Duration::from_millis(200)) {
                Ok(c) => {
                    out.extend_from_slice(&c);
                    Ok(Some(c.len()))
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    Err(std::io::ErrorKind::TimedOut.into())
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            },
        }
    }
}

/// Reads the port until the run ends.
pub fn run(req: &Request) -> Result<Capture> {
    crate::interrupt::install();
    let mut port = Port::open(req)?;
    let mut watch = Watch::default();
    let mut decoder = Decoder::new(None)?;
    let progress = Progress::new(
        &format!("capturing {}", req.port.display()),
        req.timeout,
        req.quiet,
    );
    let started = Instant::now();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut bytes = Vec::new();
    let end = loop {
        if let Some(signal) = crate::interrupt::requested() {
            break End::Interrupted { signal };
        }
        if started.elapsed() > req.timeout {
            break End::Stopped {
                why: format!("no end-of-run trailer within {} s", req.timeout.as_secs()),
            };
        }
        match port.read(&mut buf) {
            Ok(None) => {
                break End::Stopped {
                    why: "the port reported end of input".into(),
                };
            }
            Ok(Some(_)) => {
                bytes.extend_from_slice(&buf);
                decoder.push(&buf, &mut watch);
                if watch.trailer {
                    break End::Exited(status::OK);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                // A pseudo-terminal whose other side closed reports an I/O error: the end.
                if bytes.is_empty() {
                    progress.finish();
                    return Err(fail(
                        status::FAILURE,
                        format!("reading {}: {e}", req.port.display()),
                    ));
                }
                break End::Stopped {
                    why: format!("the port closed ({e})"),
                };
            }
        }
        progress.tick(started.elapsed());
    };
    if end == End::Exited(status::OK) {
        read_last_line(&mut port, &mut buf, &mut bytes, &mut decoder, &mut watch);
    }
    progress.finish();
    // Port::Device and Port::Net have no stderr; a command's is kept (qemu-stderr.log's place).
    Ok(capture(req, bytes, port.stderr(), end, started.elapsed()))
}

/// What a serial capture hands on: the bytes, and the producer's status in its trailer.
fn capture(req: &Request, bytes: Vec<u8>, stderr: Vec<u8>, end: End, wall: Duration) -> Capture {
    Capture {
        bytes,
        spill: None,
        console: String::new(),
        emulator_log: stderr,
        end,
        facts: Facts {
            emulation: req.emulation,
            ..Facts::default()
        },
        elf: req.elf.clone(),
        config: String::new(),
        wall,
        boot_s: None,
        keep: vec![],
        expect: Expect {
            nohz_full_cpu: None,
            status_in_trailer: true,
            load: None,
        },
    }
}

/// After the trailer the producer may still print its last line (the firmware's result line):
/// reads on until the port is quiet for 300 ms, closes, or 2 s have passed.
fn read_last_line(
    port: &mut Port,
    buf: &mut Vec<u8>,
    bytes: &mut Vec<u8>,
    decoder: &mut Decoder,
    watch: &mut Watch,
) {
    let (mut quiet_since, until) = (Instant::now(), Instant::now() + Duration::from_secs(2));
    while Instant::now() < until && quiet_since.elapsed() < Duration::from_millis(300) {
        match port.read(buf) {
            Ok(Some(n)) if n > 0 => {
                bytes.extend_from_slice(buf);
                decoder.push(buf, watch);
                quiet_since = Instant::now();
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}
