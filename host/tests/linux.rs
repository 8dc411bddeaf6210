//! Generic vs tickless Linux under QEMU, judged by the probe's own /proc/interrupts attribution:
//! the isolated CPU takes ~250 ticks/s generic and next to none tickless, and the probe's
//! tick-coincident noise events agree with that count.

mod common;
use common::*;

fn linux(mode: &str, extra: &[&str]) -> serde_json::Value {
    let d = tmp();
    let o = out(&d, mode);
    let mut args = vec![
        "linux",
        "--kernel-mode",
        mode,
        "--duration",
        "3s",
        "--settle",
        "500ms",
        "--json",
        "--out",
        &o,
    ];
    args.extend_from_slice(extra);
    let r = tickscope(&args);
    r.expect_status(0);
    r.json()
}

#[test]
fn generic_kernel_ticks_at_250_hz_on_the_isolated_cpu() {
    let j = linux("generic", &[]);
    assert_eq!(j["label"], "generic");
    assert_eq!(j["source"], "linux");
    assert_eq!(j["emulation"], "tcg");
    let irqs = num(&j, "timer_irqs_per_s");
    assert!(
        (225.0..=275.0).contains(&irqs),
        "arch_timer on the isolated CPU: {irqs}/s, want 250 +- 25: {j:#}"
    );
    let ticks = num(&j, "tick_events_per_s");
    assert!(
        (ticks - irqs).abs() <= 0.1 * irqs,
        "tick-coincident noise events {ticks}/s vs timer irqs {irqs}/s: {j:#}"
    );
    assert!(num(&j, "tick_cost_ns") > 0.0, "{j:#}");
    assert!(num(&j, "events_per_s") >= ticks, "{j:#}");
    assert!(j["latency_ns"]["p50"].as_u64().is_some());
    assert_eq!(j["tick_stopped"], false);
}

#[test]
fn tickless_kernel_stops_the_tick_on_the_isolated_cpu() {
    let j = linux("tickless", &["--icount"]);
    assert_eq!(j["emulation"], "icount");
    assert_eq!(j["nohz_full"], "3", "{j:#}");
    assert_eq!(j["tick_stopped"], true);
    let irqs = num(&j, "timer_irqs_per_s");
    assert!(
        irqs <= 2.0,
        "tickless: {irqs} timer irqs/s on the isolated CPU: {j:#}"
    );
    let ticks = num(&j, "tick_events_per_s");
    assert!(
        ticks <= 2.0,
        "tickless: {ticks} tick-coincident events/s: {j:#}"
    );
}

#[test]
fn compare_runs_all_three_and_writes_the_overlay() {
    let d = tmp();
    let o = out(&d, "cmp");
    let r = tickscope(&["compare", "--duration", "1s", "--json", "--out", &o]);
    r.expect_status(0);
    let j = r.json();
    let runs = j["runs"].as_array().unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["bare-metal", "generic", "tickless"]);
    for r in runs {
        assert_eq!(r["emulation"], "icount", "{r:#}");
        for k in [
            "timer_irqs_per_s",
            "tick_cost_ns",
            "events_per_s",
            "latency_ns",
            "label",
            "emulation",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r:#}");
        }
    }
    assert_eq!(
        num(&runs[0], "timer_irqs_per_s"),
        0.0,
        "bare metal takes no tick"
    );
    assert_eq!(
        num(&runs[0], "events_per_s"),
        0.0,
        "and has no noise: {:#}",
        runs[0]
    );
    assert!(
        (225.0..=275.0).contains(&num(&runs[1], "timer_irqs_per_s")),
        "{:#}",
        runs[1]
    );
    assert!(num(&runs[2], "timer_irqs_per_s") <= 2.0, "{:#}", runs[2]);
    let dir = std::path::Path::new(&o);
    for f in [
        "ccdf.png",
        "ccdf.svg",
        "report.html",
        "report.md",
        "compare.json",
    ] {
        assert!(
            dir.join(f).is_file(),
            "{f} missing from the comparison directory"
        );
    }
    for sub in ["bare-metal", "generic", "tickless"] {
        assert!(dir.join(sub).join("summary.json").is_file());
        assert!(dir.join(sub).join("capture.bin").is_file());
    }
}

#[test]
fn the_probe_refuses_a_missing_cpu_and_missing_privileges() {
    // The probe built for this machine (the host's own target), as a user would try it locally.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "tickscope-probe"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(built.success(), "building the probe for the host");
    let probe = root().join("target/debug/tickscope-probe");
    let out = std::process::Command::new(&probe)
        .args(["mode=noise", "cores=63", "duration=1s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("core 63 does not exist") || err.contains("CPU 63 does not exist"),
        "{err}"
    );
    // Without privileges (an unprivileged uid), SCHED_FIFO and mlockall are refused clearly.
    if let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
    {
        let out = std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&probe)
            .args([
                "mode=noise",
                "cores=0",
                "duration=100ms",
                "--out",
                "/dev/null",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("run as root") && err.contains("--no-rt"),
            "{err}"
        );
    } else {
        eprintln!("setpriv not installed: the unprivileged case is not exercised here");
    }
}
