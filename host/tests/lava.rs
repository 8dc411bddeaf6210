//! LAVA: our test definition, QEMU job template and `export --format lava` output pass LAVA's
//! own schema (lava-common, unpacked into a private directory by `tickscope apt-fetch`; its
//! Python dependencies in a private virtualenv), deliberately broken ones fail it, and the job's
//! `monitors` pattern reads the firmware's plain-text result line off a real console log.

mod common;
use common::*;

#[test]
fn lava_files_and_our_output_pass_lavas_schema_and_broken_ones_fail() {
    let d = tmp();
    let o = out(&d, "run");
    tickscope(&[
        "measure",
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "1s",
        "--inject-tick",
        "250:10us",
        "--out",
        &o,
    ])
    .expect_status(0);
    // The firmware's result line: the run's largest gap, as the summary says.
    let console = std::fs::read_to_string(format!("{o}/console.log")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}/summary.json")).unwrap())
            .unwrap();
    let line = format!(
        "tickscope-result: core3-noise-max pass {} ns",
        summary["latency_ns"]["max"]
    );
    assert!(console.contains(&line), "{line} not in:\n{console}");
    // A quiet run has no events: its largest gap is one of the table's, and the line says so.
    let q = out(&d, "quiet");
    tickscope(&[
        "measure",
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "200ms",
        "--out",
        &q,
    ])
    .expect_status(0);
    let quiet: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{q}/summary.json")).unwrap())
            .unwrap();
    assert_eq!(quiet["events"], 0, "{quiet:#}");
    let line = format!(
        "tickscope-result: core3-noise-max pass {} ns",
        quiet["latency_ns"]["max"]
    );
    let console = std::fs::read_to_string(format!("{q}/console.log")).unwrap();
    assert!(console.contains(&line), "{line} not in:\n{console}");

    let cases = d.path().join("cases.txt");
    let e = tickscope(&["export", "--format", "lava", &o]);
    e.expect_status(0);
    std::fs::write(&cases, &e.stdout).unwrap();
    let broken_cases = d.path().join("broken-cases.txt");
    std::fs::write(
        &broken_cases,
        "lava-test-case 'tickscope run max' --result pass --measurement 12 --units ns\n",
    )
    .unwrap();

    let lava = root().join("integrations/lava");
    let f = |name: &str| lava.join(name).display().to_string();
    let cache = std::env::var("TICKSCOPE_CACHE").unwrap_or_else(|_| {
        std::env::var("HOME")
            .map(|h| format!("{h}/.cache/tickscope"))
            .unwrap()
    });
    let out = std::process::Command::new(lava.join("validate.sh"))
        .env("TICKSCOPE", env!("CARGO_BIN_EXE_tickscope"))
        .env("TICKSCOPE_CACHE", cache)
        .args([
            f("tickscope-probe.yaml"),
            f("qemu-firmware-job.yaml.j2"),
            "--lava-cases".into(),
            cases.display().to_string(),
            "--console".into(),
            format!("{o}/console.log"),
            "--invalid".into(),
            f("negative/broken-testdef.yaml"),
            "--invalid".into(),
            f("negative/broken-job.yaml.j2"),
            "--invalid".into(),
            "--lava-cases".into(),
            broken_cases.display().to_string(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL"))
        .collect();
    assert_eq!(verdicts.len(), 7, "{stdout}");
    assert!(verdicts.iter().all(|l| l.starts_with("ok ")), "{stdout}");
    assert!(stdout.contains("monitors read core3-noise-max"), "{stdout}");
    assert!(stdout.contains("broken-testdef.yaml: invalid"), "{stdout}");
    assert!(stdout.contains("broken-cases.txt: invalid"), "{stdout}");

    // And the validator does fail: a broken file given as valid.
    let out = std::process::Command::new(lava.join("validate.sh"))
        .env("TICKSCOPE", env!("CARGO_BIN_EXE_tickscope"))
        .arg(f("negative/broken-testdef.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
