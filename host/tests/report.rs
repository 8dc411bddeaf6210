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
    ] {
        assert!(rep.join(f).is_file(), "{f} missing");
    }
    for f in ["ccdf.png", "histogram.png", "timeline.png"] {
        assert_eq!(png_size(&rep.join(f)), (1200, 700), "{f}");
    }
    for f in ["ccdf.svg", "timeline.svg"] {
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
    let html = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert!(
        html.contains("data:image/png;base64,"),
        "plots are inlined in the HTML"
    );
    let md = std::fs::read_to_string(rep.join("report.md")).unwrap();
    for dir in &dirs {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/summary.json")).unwrap())
                .unwrap();
        let label = s["label"].as_str().unwrap();
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("no row for {label}"));
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        // | run | source | mode | emulation | samples | lost | events | events/s | p50 | p90 | p99 | p999 | p9999 | max | tick | irq/s |
        let want = [
            s["samples"].to_string(),
            s["lost"].to_string(),
            s["events"].to_string(),
            s["events_per_s"].to_string(),
            s["latency_ns"]["p50"].to_string(),
            s["latency_ns"]["p90"].to_string(),
            s["latency_ns"]["p99"].to_string(),
            s["latency_ns"]["p999"].to_string(),
            s["latency_ns"]["p9999"].to_string(),
            s["latency_ns"]["max"].to_string(),
        ];
        for (i, w) in want.iter().enumerate() {
            let got = cells[4 + i];
            let same = got == w || got.parse::<f64>().ok() == w.parse::<f64>().ok();
            assert!(
                same,
                "{label}: column {} is {got}, summary.json says {w}",
                4 + i
            );
        }
        // Per-run files for spreadsheets and cyclictest scripts.
        let hist = std::fs::read_to_string(format!("{dir}/histogram.txt")).unwrap();
        assert!(
            hist.starts_with("# Histogram\n000000 "),
            "cyclictest format"
        );
        assert!(hist.contains("# Max Latencies:"));
        let csv = std::fs::read_to_string(format!("{dir}/summary.csv")).unwrap();
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .starts_with("label,emulation,mode,core,samples")
        );
    }
}

#[test]
fn check_passes_a_fresh_run_and_fails_a_doubled_tick() {
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

    let bad = out(&d, "bad");
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
        &bad,
    ])
    .expect_status(0);
    let r = tickscope(&[
        "check",
        "--baseline",
        baseline.to_str().unwrap(),
        &bad,
        "--json",
    ]);
    assert_eq!(
        r.status, 1,
        "a doubled tick must fail the gate:\n{}{}",
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
    assert!(
        moved.contains(&"tick_cost_ns") && moved.contains(&"event_ns.p50"),
        "{moved:?}"
    );
}

#[test]
fn check_refuses_runs_that_are_not_comparable() {
    let baseline = root().join("results/baselines/qemu-icount-noise-tick250.json");
    let d = tmp();
    let o = out(&d, "tcg");
    tickscope(&[
        "measure",
        "--mode",
        "timer",
        "--duration",
        "200ms",
        "--out",
        &o,
    ])
    .expect_status(0);
    let r = tickscope(&["check", "--baseline", baseline.to_str().unwrap(), &o]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not comparable"));
}
