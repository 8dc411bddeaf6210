//! `export --format rteval` against a known answer: an icount timer run with an injected tick,
//! whose every 4th wake-up waits 9.1 µs behind the tick, as rteval's summary.

mod common;
use common::*;

/// The text of `<tag ...>` inside `within` (the first one).
fn element<'a>(within: &'a str, tag: &str) -> &'a str {
    let open = within
        .find(&format!("<{tag}"))
        .unwrap_or_else(|| panic!("no <{tag}> in\n{within}"));
    let start = open + within[open..].find('>').unwrap() + 1;
    let end = start + within[start..].find(&format!("</{tag}>")).unwrap();
    &within[start..end]
}

#[test]
fn a_timer_run_exports_as_rteval_s_summary_with_its_known_answer() {
    let d = tmp();
    let o = out(&d, "timer");
    let r = tickscope(&[
        "measure",
        "--mode",
        "timer",
        "--icount",
        "--duration",
        "1s",
        "--period",
        "1ms",
        "--inject-tick",
        "250:10us",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    let x = tickscope(&["export", "--format", "rteval", &o]);
    x.expect_status(0);
    let xml = x.stdout;
    assert!(xml.starts_with("<?xml"), "{xml}");
    let core = element(&xml, "core");
    let stats = element(core, "statistics");
    let stat = |tag: &str| element(stats, tag).trim().parse::<f64>().unwrap();
    assert_eq!(stat("samples"), num(&j, "samples"));
    // On time: 0 µs; behind the tick: its 10 µs less the 0.9 µs head start, 9 µs in whole µs.
    assert_eq!(
        (stat("minimum"), stat("maximum"), stat("mode")),
        (0.0, 9.0, 0.0)
    );
    let late = num(&j, "events");
    assert!(
        core.contains(&format!("<bucket index=\"9\" value=\"{late}\"/>")),
        "{late} late wake-ups in the 9 µs bucket:\n{core}"
    );
    // The mean of 0s and 9s: 9 × late / samples.
    let mean = 9.0 * late / stat("samples");
    assert!((stat("mean") - mean).abs() < 1e-9, "{stats}");
    // A noise-mode run is refused with the reason.
    let n = out(&d, "noise");
    tickscope(&["measure", "--icount", "--duration", "200ms", "--out", &n]).expect_status(0);
    let r = tickscope(&["export", "--format", "rteval", &n]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("timer mode"), "{}", r.stderr);
}
