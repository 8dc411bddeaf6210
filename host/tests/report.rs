//! Reports and the regression gate: three runs make a report whose plots are real images of the
//! expected size and whose numbers equal summary.json; the committed baseline passes a fresh
//! run and fails one with a doubled injected tick.

mod common;
use common::*;

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn report_on_three_runs_writes_plots_and_matching_numbers() {
    let d = tmp();
    let runs = [
        ("bare", None),
        ("tick250", Some("250:10us")),
        ("tick1000", Some("1000:5us")),
    ];
    let mut dirs = Vec::new();
    for (label, tick) in runs {
        let o = out(&d, label);
        let mut args = vec![
            "measure",
            "--mode",
            "noise",
            "--icount",
            "--duration",
            "1s",
            "--label",
            label,
            "--out",
            &o,
        ];
        if let Some(t) = tick {
            args.extend(["--inject-tick", t]);
        }
        tickscope(&args).expect_status(0);
        dirs.push(o);
    }
    let rep = out(&d, "report");
    let mut args = vec!["report", "--json", "--out", &rep];
    args.extend(dirs.iter().map(String::as_str));
    let r = tickscope(&args);
    r.expect_status(0);
    let rep = std::path::Path::new(&rep);
    for f in [
        "report.md",
        "report.html",
        "ccdf.png",
        "ccdf.svg",
        "histogram.png",
        "histogram.svg",
        "timeline.png",
        "timeline.svg",
        "latency_1us.png",
        "latency_1us.svg",
        "latency_1us.json",
        "maxima.png",
        "maxima.svg",
        "maxima.json",
    ] {
        assert!(rep.join(f).is_file(), "{f} missing");
    }
    // OSADL's form, checked against the injected ticks: every sample in a 1 µs bin, and each
    // tick run's worst case and its fullest bin above 1 µs at the tick's length (the loop loses
    // the tick's work plus its entry and return: a little over 10 or 5 µs).
    let bins: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("latency_1us.json")).unwrap())
            .unwrap();
    for (run, (tick_us, ticks)) in bins["runs"].as_array().unwrap().iter().zip([
        (None, 0u64),
        (Some(10.0), 249),
        (Some(5.0), 999),
    ]) {
        let pairs: Vec<(u64, u64)> = run["bins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b[0].as_u64().unwrap(), b[1].as_u64().unwrap()))
            .collect();
        let total: u64 = pairs.iter().map(|p| p.1).sum();
        assert_eq!(total, run["samples"].as_u64().unwrap(), "{run:#}");
        let above_1us: u64 = pairs.iter().filter(|p| p.0 >= 1).map(|p| p.1).sum();
        let max = run["max_us"].as_f64().unwrap();
        match tick_us {
            None => assert_eq!(above_1us, 0, "no tick, no sample above 1 µs: {run:#}"),
            Some(us) => {
                assert!((us..us + 0.3).contains(&max), "worst {max} µs: {run:#}");
                let at_tick = pairs.iter().find(|p| p.0 == us as u64).map_or(0, |p| p.1);
                assert!(
                    (ticks - 1..=ticks + 1).contains(&at_tick) && above_1us == at_tick,
                    "{ticks} ticks in the {us} µs bin: {run:#}"
                );
            }
        }
    }
    assert_eq!(png_size(&rep.join("causes.png")), (1200, 700));
    // Legends go below the plots: a 22 px row for each curve a run with events can have (OS and
    // emulator noise of the two ticking runs; the bare run has none), 16 px of margin; one row a
    // run for the histograms and the maxima.
    assert_eq!(png_size(&rep.join("ccdf.png")), (1200, 700 + 4 * 22 + 16));
    for f in ["histogram.png", "latency_1us.png", "maxima.png"] {
        assert_eq!(png_size(&rep.join(f)), (1200, 700 + 3 * 22 + 16), "{f}");
    }
    // One panel per run.
    assert_eq!(png_size(&rep.join("timeline.png")), (1200, 3 * 350 + 60));
    for f in ["ccdf.svg", "causes.svg"] {
        let svg = std::fs::read_to_string(rep.join(f)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("</svg>"),
            "{f} is not an SVG"
        );
        assert!(
            svg.contains("tick250 (icount)"),
            "{f}: legend names the runs"
        );
    }
    let svg = std::fs::read_to_string(rep.join("causes.svg")).unwrap();
    assert!(
        svg.contains("injected tick (INTID 27)"),
        "the bars name the cause"
    );
    // The largest event per interval: 1 s windows in 10 ms intervals; every one of the tick runs'
    // intervals holds ticks (every 4 or 1 ms), so each maximum is the tick's length, and the run
    // without ticks has none above its threshold.
    let maxima: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("maxima.json")).unwrap()).unwrap();
    assert_eq!(maxima["interval_s"], 0.01, "{maxima:#}");
    for (run, tick_ns) in
        maxima["runs"]
            .as_array()
            .unwrap()
            .iter()
            .zip([None, Some(10_000.0), Some(5_000.0)])
    {
        let m = run["maxima_ns"].as_array().unwrap();
        assert_eq!(m.len(), 100, "{run:#}");
        assert_eq!(run["complete"], true);
        for v in m {
            match tick_ns {
                None => assert!(v.is_null(), "{run:#}"),
                Some(t) => {
                    let v = v.as_f64().unwrap();
                    assert!((t..t + 300.0).contains(&v), "{v} ns: {run:#}");
                }
            }
        }
    }
    // `--interval` sets the maxima's interval (OSADL plots 5 minutes): 250 ms gives 4 per run,
    // each still the tick's length; an interval that would cut the window into more than 10000
    // is refused with the reason, and nothing is written.
    let rep2 = out(&d, "report-250ms");
    let mut args = vec!["report", "--interval", "250ms", "--out", &rep2];
    args.extend(dirs.iter().map(String::as_str));
    tickscope(&args).expect_status(0);
    let maxima: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(&rep2).join("maxima.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(maxima["interval_s"], 0.25, "{maxima:#}");
    let tick250 = maxima["runs"][1]["maxima_ns"].as_array().unwrap();
    assert_eq!(tick250.len(), 4, "{maxima:#}");
    assert!(
        tick250
            .iter()
            .all(|v| (10_000.0..10_300.0).contains(&v.as_f64().unwrap())),
        "{maxima:#}"
    );
    let rep3 = out(&d, "report-1us");
    let mut args = vec!["report", "--interval", "1us", "--out", &rep3];
    args.extend(dirs.iter().map(String::as_str));
    let r = tickscope(&args);
    assert_eq!(r.status, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("into 1000000 intervals; at most 10000"),
        "{}",
        r.stderr
    );
    assert!(!std::path::Path::new(&rep3).join("maxima.json").exists());
    let html = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert!(
        html.contains("data:image/png;base64,"),
        "plots are inlined in the HTML"
    );
    // Rendered by a Markdown library: emphasis becomes tags, never literal asterisks; the page
    // opens with what the runs found.
    assert!(!html.contains("**"), "literal ** in report.html");
    assert!(
        html.contains("<strong>OS part</strong>"),
        "emphasis rendered"
    );
    assert!(html.contains("<table>") && html.contains("<th>run</th>"));
    // In a browser 1400 px wide (where one is installed), nothing runs off the page.
    common::browser::assert_fits(&rep.join("report.html"), 1400);
    assert!(
        html.contains("<p class=\"finding\">In one line: <code>"),
        "the finding first"
    );
    // The report's tables (the headline, then the other figures) and each run's CSV carry the
    // same figures as summary.json.
    let md = std::fs::read_to_string(rep.join("report.md")).unwrap();
    let mut cells: std::collections::BTreeMap<(String, String), String> = Default::default();
    let mut header: Vec<String> = vec![];
    let mut tables = 0;
    for line in md.lines() {
        if !line.starts_with('|') {
            header.clear();
            continue;
        }
        let row: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        if header.is_empty() {
            tables += usize::from(row[0] == "run");
            header = row;
        } else if header[0] == "run" && !row[0].starts_with("---") {
            for (h, c) in header.iter().zip(&row) {
                cells.insert((row[0].clone(), h.clone()), c.clone());
            }
        }
    }
    assert_eq!(tables, 2, "the headline and the other figures: {md}");
    let cell = |label: &str, name: &str| {
        cells
            .get(&(label.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no column {name} for {label} in {md}"))
            .clone()
    };
    for dir in &dirs {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/summary.json")).unwrap())
                .unwrap();
        let label = s["label"].as_str().unwrap();
        assert_eq!(cell(label, "events"), s["events"].to_string(), "{label}");
        assert_eq!(cell(label, "lost"), s["lost"].to_string(), "{label}");
        assert_eq!(cell(label, "attribution"), "firmware", "{label}");
        assert_eq!(
            cell(label, "OS noise events/s"),
            format!("{:.1}", num(&s, "os_noise.events_per_s")),
            "{label}"
        );
        assert_eq!(
            cell(label, "timer irqs/s"),
            format!("{:.1}", num(&s, "timer_irqs_per_s")),
            "{label}"
        );
        // Per-run files for spreadsheets and cyclictest scripts.
        let hist = std::fs::read_to_string(format!("{dir}/histogram.txt")).unwrap();
        assert!(
            hist.starts_with("# Histogram\n000000 "),
            "cyclictest format"
        );
        assert!(hist.contains("# Max Latencies:"));
        let csv = std::fs::read_to_string(format!("{dir}/summary.csv")).unwrap();
        let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        let c = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
        let all = rows.iter().find(|r| r[c("core")] == "all").unwrap();
        assert_eq!(all[c("events")], s["events"].to_string(), "{label}");
        assert_eq!(
            all[c("os_events_per_s")].parse::<f64>().unwrap(),
            num(&s, "os_noise.events_per_s")
        );
        assert_eq!(
            all[c("hw_noise_ns_per_s")].parse::<f64>().unwrap(),
            num(&s, "hw_noise.noise_ns_per_s").round()
        );
        assert_eq!(all[c("blind_ns")], s["blind_ns"].to_string());
    }
}

#[test]
fn check_passes_a_fresh_run_and_fails_a_moved_figure() {
    let baseline = root().join("results/baselines/qemu-icount-noise-tick250.json");
    let d = tmp();
    let good = out(&d, "good");
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
        &good,
    ])
    .expect_status(0);
    let r = tickscope(&["check", "--baseline", baseline.to_str().unwrap(), &good]);
    assert_eq!(
        r.status, 0,
        "fresh run against the committed baseline:\n{}{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("PASS"));
    // The same verdicts as LAVA test cases: every headline figure with its measurement.
    let lava = |dir: &str| {
        let r = tickscope(&[
            "export",
            "--format",
            "lava",
            dir,
            "--baseline",
            baseline.to_str().unwrap(),
        ]);
        r.expect_status(0);
        r.stdout
    };
    let l = lava(&good);
    assert!(l.starts_with("lava-test-case tickscope-"), "{l}");
    assert!(!l.contains("--result fail"), "{l}");
    assert!(
        l.lines()
            .any(|x| x.contains("-tick_cost_ns --result pass --measurement ")
                && x.ends_with("--units ns")),
        "{l}"
    );

    // The same run with its tick three counter ticks too long in summary.json (as a regression
    // of the interrupt path would make it): the exact icount bounds (one counter tick either
    // way) catch it, wherever within them the fresh run fell.
    let path = std::path::Path::new(&good).join("summary.json");
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cost = s["tick_cost_ns"].as_u64().unwrap();
    s["tick_cost_ns"] = serde_json::json!(cost + 48);
    let p50 = s["os_noise"]["event_ns"]["p50"].as_u64().unwrap();
    s["os_noise"]["event_ns"]["p50"] = serde_json::json!(p50 + 48);
    std::fs::write(&path, serde_json::to_string_pretty(&s).unwrap()).unwrap();
    let r = tickscope(&[
        "check",
        "--baseline",
        baseline.to_str().unwrap(),
        &good,
        "--json",
    ]);
    assert_eq!(
        r.status, 1,
        "a moved tick must fail the gate:\n{}{}",
        r.stdout, r.stderr
    );
    let j = r.json();
    assert_eq!(j["pass"], false);
    let moved: Vec<&str> = j["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["ok"] == false)
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    assert_eq!(moved, ["os_noise.event_ns.p50", "tick_cost_ns"], "{j:#}");
    let cases = lava(&good);
    let failed: Vec<&str> = cases
        .lines()
        .filter(|x| x.contains("--result fail"))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|x| x.contains("os_noise.event_ns.p50") || x.contains("tick_cost_ns"))
    );
}

#[test]
fn check_refuses_runs_that_are_not_comparable() {
    let baseline = root().join("results/baselines/qemu-icount-noise-tick250.json");
    let d = tmp();
    // Another mode and emulation, and the same mode with another configuration (a doubled tick
    // is a different setup, not a regression of this one).
    let tcg = out(&d, "tcg");
    tickscope(&[
        "measure",
        "--mode",
        "timer",
        "--duration",
        "200ms",
        "--out",
        &tcg,
    ])
    .expect_status(0);
    let doubled = out(&d, "doubled");
    tickscope(&[
        "measure",
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "1s",
        "--inject-tick",
        "250:20us",
        "--out",
        &doubled,
    ])
    .expect_status(0);
    for (dir, why) in [
        (&tcg, "mode timer (baseline noise)"),
        (&doubled, "inject=250:20us"),
    ] {
        let r = tickscope(&["check", "--baseline", baseline.to_str().unwrap(), dir]);
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("not comparable") && r.stderr.contains(why),
            "{}",
            r.stderr
        );
    }
}

/// The browser check can fail: a page with a table three times the window's width is measured
/// as running off it (where a Chromium is installed).
#[test]
fn the_browser_check_sees_a_page_that_does_not_fit() {
    let d = tmp();
    let page = d.path().join("wide.html");
    let cells: String = (0..60).map(|i| format!("<td>column-{i:03}</td>")).collect();
    std::fs::write(
        &page,
        format!(
            "<!doctype html><html><head><style>td{{white-space:nowrap}}</style></head><body>\
             <table><tr><th>run</th></tr><tr>{cells}</tr></table></body></html>"
        ),
    )
    .unwrap();
    let Some(l) = common::browser::layout(&page, 1400) else {
        eprintln!("no Chromium on PATH: the browser check not exercised");
        return;
    };
    assert_eq!(l.width, 1400, "{l:?}");
    assert!(l.page_width > 3000, "{l:?}");
    assert_eq!(l.tables, 1, "{l:?}");
}
