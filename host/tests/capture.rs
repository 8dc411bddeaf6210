//! `tickscope capture` over a real serial path: QEMU's PL011 on a pseudo-terminal, read through
//! the serial-port code exactly as a board's /dev/ttyUSB0 would be.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn captures_a_uart_run_from_a_serial_device() {
    // QEMU starts paused with the UART on a pty.
    let mut qemu = PtyQemu::start("mode=timer smp=2 duration=200ms transport=uart icount=on");
    let d = tmp();
    let o = out(&d, "cap");
    let capture = Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args([
            "capture",
            "--serial",
            &qemu.pty,
            "--baud",
            "115200",
            "--timeout",
            "60",
            "--emulation",
            "icount",
            "--json",
            "--out",
            &o,
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let the capture open the pty; then let the guest run.
    std::thread::sleep(Duration::from_millis(1500));
    qemu.cont();
    let out = capture.wait_with_output().unwrap();
    qemu.finish();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["trailer"], true, "{j:#}");
    assert_eq!(j["mode"], "timer");
    assert_eq!(
        j["samples"], 199,
        "every wake-up of a 200 ms window at 1 ms: {j:#}"
    );
    assert!(std::path::Path::new(&o).join("capture.bin").is_file());
}

#[test]
fn a_missing_serial_device_is_a_clear_error() {
    let r = tickscope(&[
        "capture",
        "--serial",
        "/dev/does-not-exist",
        "--baud",
        "115200",
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot open /dev/does-not-exist"),
        "{}",
        r.stderr
    );
}
