//! PREEMPT_RT and the peers: the RT kernel boots and says so itself; oslat and cyclictest from
//! Debian's rt-tests run after the probe in the same VM and are reported beside it; their files
//! import into run directories with their own maxima, and our exports read back the same way.

mod common;
use common::*;

#[test]
fn the_rt_kernel_boots_and_the_probe_reads_preempt_rt_from_it() {
    let d = tmp();
    let o = out(&d, "rt");
    let r = tickscope(&[
        "linux",
        "--kernel-mode",
        "rt",
        "--mode",
        "timer",
        "--period",
        "1ms",
        "--duration",
        "2s",
        "--settle",
        "500ms",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["preempt_rt"], true, "{j:#}");
    let kernel = j["kernel"].as_str().unwrap();
    assert!(kernel.contains("-rt-"), "kernel {kernel}");
    assert!(
        j["kernel_package"].as_str().unwrap().contains("rt-arm64"),
        "{j:#}"
    );
    assert_eq!(j["mode"], "timer");
    assert!(num(&j, "samples") > 1000.0, "{j:#}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}/run.json")).unwrap()).unwrap();
    assert_eq!(info["preempt_rt"], true, "run.json: {info:#}");
    assert_eq!(info["kernel_mode"], "rt");
}

#[test]
fn peers_run_beside_the_probe_and_their_files_round_trip() {
    let d = tmp();
    let o = out(&d, "generic");
    let r = tickscope(&[
        "linux",
        "--kernel-mode",
        "generic",
        "--peers",
        "--icount",
        "--duration",
        "2s",
        "--settle",
        "500ms",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    // Read from the kernel, not assumed: the generic kernel is not PREEMPT_RT.
    assert_eq!(j["preempt_rt"], false, "{j:#}");
    // The probe's plain-text result line says the run's largest gap, as the summary.
    let console = std::fs::read_to_string(format!("{o}/console.log")).unwrap();
    let line = format!(
        "tickscope-result: cpu3-noise-max pass {} ns",
        j["latency_ns"]["max"]
    );
    assert!(console.contains(&line), "{line} not in:\n{console}");
    let oslat = &j["peers"]["oslat"];
    let ct = &j["peers"]["cyclictest"];
    assert!(num(oslat, "max_ns") > 0.0, "{oslat:#}");
    assert!(num(ct, "max_ns") > 0.0, "{ct:#}");
    assert_eq!(num(oslat, "cpu"), 3.0);
    // The generic kernel's tick over oslat's run, as over the probe's.
    let tick = num(oslat, "timer_irqs_per_s");
    assert!(
        tick > 200.0 && tick < 300.0,
        "oslat window: {tick} timer irq/s"
    );
    assert!(num(ct, "samples") > 1000.0, "{ct:#}");
    assert!(num(ct, "p99_ns") <= num(ct, "max_ns"));
    // The files as the tools wrote them, and their rows in the report.
    let ct_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}/cyclictest.json")).unwrap())
            .unwrap();
    let ct_max_us = ct_file["thread"]["0"]["max"].as_f64().unwrap();
    assert_eq!(num(ct, "max_ns"), ct_max_us * 1000.0);
    let rep = tickscope(&["report", &o, "--out", &out(&d, "report")]);
    rep.expect_status(0);
    let md = std::fs::read_to_string(format!("{}/report.md", out(&d, "report"))).unwrap();
    assert!(md.contains("## Peers"), "{md}");
    assert!(md.contains("| generic | oslat |"), "{md}");
    // With peers' rows and tails, the page still fits a browser 1400 px wide (where installed).
    common::browser::assert_fits(
        &std::path::Path::new(&out(&d, "report")).join("report.html"),
        1400,
    );
    // Only the probe splits its events into OS and hardware/emulator noise; the peers cannot.
    let probe_row = md
        .lines()
        .find(|l| l.starts_with("| generic | tickscope |"))
        .unwrap_or_else(|| panic!("no probe row in {md}"));
    assert!(
        probe_row.contains(&format!("| {:.1} |", num(&j, "os_noise.events_per_s"))),
        "{probe_row}"
    );
    let oslat_row = md
        .lines()
        .find(|l| l.starts_with("| generic | oslat |"))
        .unwrap();
    assert!(oslat_row.contains("| n/a | n/a |"), "{oslat_row}");

    // Import: cyclictest's own file makes a run whose max is cyclictest's.
    let imp = tickscope(&[
        "import",
        &format!("{o}/cyclictest.json"),
        "--label",
        "ct",
        "--json",
        "--out",
        &out(&d, "ct"),
    ]);
    imp.expect_status(0);
    let ji = imp.json();
    assert_eq!(ji["mode"], "timer");
    assert_eq!(num(&ji, "latency_ns.max"), ct_max_us * 1000.0, "{ji:#}");
    assert_eq!(num(&ji, "samples"), num(ct, "samples"));
    // oslat's printed summary imports too (its values named by upper edges: max less 1 us).
    let osl = tickscope(&[
        "import",
        &format!("{o}/oslat.txt"),
        "--label",
        "oslat",
        "--json",
        "--out",
        &out(&d, "oslat"),
    ]);
    osl.expect_status(0);
    assert_eq!(num(&osl.json(), "latency_ns.max"), num(oslat, "max_ns"));

    // Export: our run in cyclictest's layout, read back by the same reader.
    let ours = num(&j, "latency_ns.max");
    let exported = format!("{}/export.json", d.path().display());
    tickscope(&["export", "--format", "rt-tests", &o, "--output", &exported]).expect_status(0);
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(e["file_version"], 1);
    assert_eq!(
        e["thread"]["0"]["max"].as_f64().unwrap(),
        (ours / 1000.0).floor()
    );
    let back = tickscope(&[
        "import",
        &exported,
        "--label",
        "back",
        "--json",
        "--out",
        &out(&d, "back"),
    ]);
    back.expect_status(0);
    let jb = back.json();
    assert_eq!(jb["mode"], "noise", "the mode survives the round trip");
    assert_eq!(num(&jb, "latency_ns.max"), (ours / 1000.0).floor() * 1000.0);
    assert_eq!(num(&jb, "samples"), num(&j, "samples"));
}

#[test]
fn bad_lists_and_bad_files_are_clear_errors() {
    let r = tickscope(&["compare", "--kernels", "generic,foo"]);
    r.expect_status(2);
    assert!(r.stderr.contains("unknown kernel `foo`"), "{}", r.stderr);
    let r = tickscope(&["linux", "--kernel-mode", "generic", "--priority", "0"]);
    r.expect_status(2);
    assert!(r.stderr.contains("--priority 0"), "{}", r.stderr);
    let d = tmp();
    let f = d.path().join("broken.json");
    std::fs::write(&f, "{\"thread\": {\"0\": {\"min\": 1}}}").unwrap();
    let r = tickscope(&["import", f.to_str().unwrap(), "--label", "x"]);
    r.expect_status(2);
    assert!(r.stderr.contains("without `max`"), "{}", r.stderr);
}
