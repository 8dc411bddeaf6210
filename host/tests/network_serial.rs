//! `capture --serial rfc2217://` and `tcp://`: a run's wire bytes served over TCP the way ser2net
//! serves a board's UART (telnet negotiation, subnegotiations and doubled 0xFF bytes interleaved,
//! in small pieces) come out byte-identical; read as raw TCP the same stream is damaged and the
//! damage is reported; garbage is reported, not decoded.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const IAC: u8 = 255;

/// Serves `stream` to one client in pieces of 7 bytes, then closes; returns what the client sent.
fn serve(stream: Vec<u8>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_nodelay(true).unwrap();
        let mut rx = c.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let _ = rx.read_to_end(&mut got);
            got
        });
        for piece in stream.chunks(7) {
            // A client that gave up closes its end: stop serving.
            if c.write_all(piece).is_err() {
                break;
            }
        }
        // Let the client read to its trailer before the port closes.
        std::thread::sleep(Duration::from_millis(300));
        let _ = c.shutdown(std::net::Shutdown::Both);
        reader.join().unwrap()
    });
    (addr, h)
}

/// A run's wire bytes: a bare-metal measurement under icount (1 s of 1 ms wake-ups: some 8 KB,
/// 0xFF bytes among them).
fn a_capture(d: &tempfile::TempDir) -> Vec<u8> {
    let o = out(d, "source");
    tickscope(&[
        "measure",
        "--mode",
        "timer",
        "--icount",
        "--duration",
        "1s",
        "--out",
        &o,
    ])
    .expect_status(0);
    std::fs::read(format!("{o}/capture.bin")).unwrap()
}

fn capture(url: &str, o: &str) -> Run {
    tickscope(&[
        "capture",
        "--serial",
        url,
        "--timeout",
        "30",
        "--emulation",
        "icount",
        "--json",
        "--out",
        o,
    ])
}

#[test]
fn rfc2217_capture_is_byte_identical_and_raw_tcp_reports_the_damage() {
    let d = tmp();
    let bytes = a_capture(&d);
    assert!(bytes.contains(&IAC), "the capture has 0xFF bytes to escape");
    // What ser2net sends: its negotiation (DO/WILL BINARY, WILL COM-PORT, a NOP), then the data
    // with 0xFF doubled and a COM-PORT notification (with an escaped IAC inside) mid-stream.
    let mut telnet = vec![
        IAC, 253, 0, IAC, 251, 0, IAC, 251, 3, IAC, 253, 44, IAC, 241,
    ];
    let half = bytes.len() / 2;
    telnet.extend(tickscope::telnet::escape(&bytes[..half]));
    telnet.extend_from_slice(&[IAC, 250, 44, 106, IAC, IAC, 3, IAC, 240]);
    telnet.extend(tickscope::telnet::escape(&bytes[half..]));

    let (addr, server) = serve(telnet.clone());
    let o = out(&d, "rfc2217");
    let r = capture(&format!("rfc2217://{addr}"), &o);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["trailer"], true, "{j:#}");
    let got = std::fs::read(format!("{o}/capture.bin")).unwrap();
    assert!(
        got == bytes,
        "capture differs: {} vs {} bytes",
        got.len(),
        bytes.len()
    );
    // We answered the negotiation and asked for BINARY and the baud rate (RFC 2217).
    let sent = server.join().unwrap();
    assert!(sent.windows(3).any(|w| w == [IAC, 251, 0]), "{sent:?}");
    assert!(sent.windows(4).any(|w| w == [IAC, 250, 44, 1]), "{sent:?}");

    // The same stream read as raw TCP: the telnet bytes corrupt frames, and that is reported.
    let (addr, server) = serve(telnet);
    let o = out(&d, "raw");
    let r = capture(&format!("tcp://{addr}"), &o);
    server.join().unwrap();
    assert_ne!(r.status, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("capture:"), "{}", r.stderr);
}

#[test]
fn a_commands_output_is_captured_byte_for_byte_and_a_mangling_pty_is_reported() {
    let d = tmp();
    let bytes = a_capture(&d);
    let file = d.path().join("source/capture.bin");
    // Straight from the command, and through a pty set raw (a console reached through `script`).
    for (name, cmd) in [
        ("pipe", format!("exec:cat {}", file.display())),
        (
            "raw-pty",
            format!(
                "exec:script -qfc 'stty raw -echo; cat {}' /dev/null",
                file.display()
            ),
        ),
    ] {
        let o = out(&d, name);
        let r = capture(&cmd, &o);
        r.expect_status(0);
        let j = r.json();
        assert_eq!(
            (j["trailer"].as_bool(), j["binary_clean"].as_bool()),
            (Some(true), Some(true)),
            "{name}: {j:#}"
        );
        let got = std::fs::read(format!("{o}/capture.bin")).unwrap();
        assert!(
            got == bytes,
            "{name}: {} bytes vs {}",
            got.len(),
            bytes.len()
        );
    }
    // A pty left cooked turns every newline byte into CR LF: the frames' CRCs catch it.
    let o = out(&d, "cooked-pty");
    let r = capture(
        &format!("exec:script -qfc 'cat {}' /dev/null", file.display()),
        &o,
    );
    assert_ne!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not binary-clean"), "{}", r.stderr);
    assert_eq!(r.json()["binary_clean"], false);
    // A command that fails: what it said is kept.
    let o = out(&d, "failing");
    let r = capture("exec:echo no such console >&2; exit 3", &o);
    assert_ne!(r.status, 0);
    let log = std::fs::read_to_string(format!("{o}/qemu-stderr.log")).unwrap_or_default();
    assert!(log.contains("no such console"), "{log:?} {}", r.stderr);
}

#[test]
fn garbage_and_a_closed_port_are_reported() {
    let mut x = 0x1234_5678_9abc_def0u64;
    let garbage: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let (addr, server) = serve(garbage);
    let d = tmp();
    let o = out(&d, "garbage");
    let r = capture(&format!("tcp://{addr}"), &o);
    server.join().unwrap();
    assert_eq!(r.status, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("holds no tickscope run"), "{}", r.stderr);
    // Nobody listening: a clear error before anything is written.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let r = capture(&format!("rfc2217://{addr}"), &out(&d, "none"));
    r.expect_status(2);
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
}

/// QEMU paused with the firmware's UART on a pty. Raw samples (`reduce=raw`): 1 s of 1 ms
/// wake-ups, some 8 KB with 0xFF bytes among them.
/// The firmware's settings for the UART runs compared here.
const UART_RUN: &str = "mode=timer smp=2 duration=1s transport=uart reduce=raw icount=on";

fn qemu_on_pty() -> PtyQemu {
    PtyQemu::start(UART_RUN)
}

/// The firmware's UART bytes of the run `qemu_on_pty` makes, as QEMU writes them to `path`.
fn uart_to_file(path: &std::path::Path) -> Vec<u8> {
    let img = tickscope(&["image", "--json"]);
    img.expect_status(0);
    let elf = img.json()["elf"].as_str().unwrap().to_string();
    let status = std::process::Command::new("qemu-system-aarch64")
        .args(firmware_machine(&elf))
        .args(["-serial", &format!("file:{}", path.display())])
        .args(["-monitor", "none", "-semihosting-config"])
        .arg(semihosting_config(UART_RUN))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "the direct run");
    std::fs::read(path).unwrap()
}

/// Captures the firmware's UART run from `url` once connected: QEMU is let run after 1.5 s.
fn capture_qemu_run(url: &str, qemu: &mut PtyQemu, o: &str) -> Vec<u8> {
    let cap = std::process::Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args([
            "capture",
            "--serial",
            url,
            "--timeout",
            "60",
            "--emulation",
            "icount",
        ])
        .args(["--json", "--out", o])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    qemu.cont();
    let out = cap.wait_with_output().unwrap();
    qemu.finish();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(format!("{o}/capture.bin")).unwrap()
}

#[test]
fn through_ser2net_the_capture_equals_a_direct_one() {
    let ser2net = ["/usr/sbin/ser2net", "/usr/bin/ser2net"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "ser2net is missing (the test command installs it as root: apt-get install ser2net)",
        );
    let d = tmp();
    // Direct: what QEMU writes to a file.
    let direct = uart_to_file(&d.path().join("direct.bin"));
    // Through ser2net's RFC 2217 port exporting a pty QEMU's UART writes to (icount: same
    // bytes; the pty outlives QEMU, see `PtyQemu`).
    let mut qemu = qemu_on_pty();
    let pty = qemu.pty.clone();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = d.path().join("ser2net.yaml");
    std::fs::write(
        &cfg,
        format!(
            "connection: &tickscope\n  accepter: telnet(rfc2217),tcp,127.0.0.1,{port}\n  connector: serialdev,{pty},115200n81,local\n"
        ),
    )
    .unwrap();
    let mut server = std::process::Command::new(ser2net)
        .args(["-n", "-u", "-c"])
        .arg(&cfg)
        .arg("-P")
        .arg(d.path().join("ser2net.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it listens.
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let via = capture_qemu_run(
        &format!("rfc2217://127.0.0.1:{port}"),
        &mut qemu,
        &out(&d, "ser2net"),
    );
    let _ = server.kill();
    let _ = server.wait();
    assert!(direct.contains(&IAC), "the run has 0xFF bytes to escape");
    if via != direct {
        // Kept for a look: the temporary directory goes away with the test.
        let _ = std::fs::write(std::env::temp_dir().join("ser2net-direct.bin"), &direct);
        let _ = std::fs::write(std::env::temp_dir().join("ser2net-via.bin"), &via);
    }
    // Every frame, the trailer included, must be byte-identical; the capture may stop within
    // the console line printed after the trailer.
    let frames_end = |x: &[u8]| x.iter().rposition(|&b| b == 0).map_or(0, |i| i + 1);
    let end = frames_end(&direct);
    let same = end > 0 && frames_end(&via) == end && via[..end] == direct[..end];
    assert!(
        same,
        "through ser2net {} bytes, direct {} bytes",
        via.len(),
        direct.len()
    );
}
