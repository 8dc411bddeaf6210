//! labgrid: the integration's own pytest suite (integrations/labgrid/run-tests.sh): the firmware
//! booted by labgrid's QEMU driver, its run read off labgrid's console, imported with no loss and
//! checked against the committed baseline, for each board by name; a coordinator, exporters and
//! clients on 127.0.0.1 capturing through a RemotePlace exactly what a direct capture gets; a
//! two-board lab captured at once every way and imported into one directory, nothing
//! overwritten; 20 RFC 2217 runs through labgrid's serial driver reaching their end. Bounded in
//! time; the suite ends every process it starts by its id.

mod common;
use common::*;

#[test]
fn labgrid_plugin_tests_pass() {
    let script = root().join("integrations/labgrid/run-tests.sh");
    let out = std::process::Command::new("timeout")
        .arg("900")
        .arg(&script)
        .env("TICKSCOPE", env!("CARGO_BIN_EXE_tickscope"))
        .current_dir(root())
        .output()
        .expect("running integrations/labgrid/run-tests.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // test_firmware (2 boards + the errors), test_lab (2), test_reader (3), test_remote,
    // test_rfc2217.
    assert!(stdout.contains("10 passed"), "{stdout}");
}
