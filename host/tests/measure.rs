//! Bare-metal measurement under `-icount`, checked against known answers: a quiet core has no
//! events; an injected 250 Hz × 10 µs tick shows up as exactly that rate and length; timer wake-ups
//! are all reported and the tick delays the ones it overlaps; runs repeat bit for bit.

mod common;
use common::*;

fn measure(args: &[&str]) -> serde_json::Value {
    let d = tmp();
    let o = out(&d, "run");
    let mut all = vec!["measure", "--json", "--out", &o];
    all.extend_from_slice(args);
    let r = tickscope(&all);
    r.expect_status(0);
    r.json()
}

#[test]
fn quiet_core_has_no_events_above_1us() {
    let j = measure(&[
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "1s",
        "--threshold",
        "1us",
    ]);
    assert_eq!(j["emulation"], "icount");
    assert_eq!(j["mode"], "noise");
    assert_eq!(j["events"], 0, "{j:#}");
    assert_eq!(j["lost"], 0, "{j:#}");
    // ~10 instructions per iteration at one instruction per ns: about 1e8 loop iterations.
    assert!(num(&j, "samples") > 5e7, "{j:#}");
    assert!(num(&j, "latency_ns.max") < 1000.0, "{j:#}");
}

#[test]
fn injected_tick_is_found_at_its_rate_and_length() {
    let j = measure(&[
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "2s",
        "--inject-tick",
        "250:10us",
    ]);
    let eps = num(&j, "events_per_s");
    assert!(
        (eps - 250.0).abs() <= 1.0,
        "events_per_s {eps}, want 250 +- 1: {j:#}"
    );
    let taken = num(&j, "inject.taken");
    assert_eq!(
        num(&j, "inject.matched_events"),
        taken,
        "every tick is seen as one noise event: {j:#}"
    );
    assert_eq!(
        num(&j, "events"),
        taken,
        "no event other than the ticks: {j:#}"
    );
    // The event is the handler's 10 µs plus the interrupt entry/exit cost, measured independently
    // from the handler's own timestamps.
    let overhead = num(&j, "irq_overhead_ns");
    assert!(
        overhead > 0.0 && overhead < 1000.0,
        "entry+exit overhead {overhead} ns: {j:#}"
    );
    let want = 10_000.0 + overhead;
    let median = num(&j, "event_ns.p50");
    assert!(
        (median - want).abs() <= 0.05 * want,
        "median event {median} ns, want {want} +- 5 %: {j:#}"
    );
    assert_eq!(num(&j, "tick_cost_ns"), median, "{j:#}");
    // The per-second counts show the rate as such.
    let per_s = j["cores"][0]["per_second"].as_array().unwrap();
    assert!(
        per_s
            .iter()
            .all(|c| (c.as_f64().unwrap() - 250.0).abs() <= 1.0),
        "{j:#}"
    );
}

#[test]
fn timer_mode_reports_every_wakeup() {
    let j = measure(&[
        "--mode",
        "timer",
        "--icount",
        "--duration",
        "1s",
        "--period",
        "1ms",
    ]);
    // Deadlines at start + k ms, k = 1..999, strictly inside the 1 s window.
    assert_eq!(num(&j, "samples"), 999.0, "{j:#}");
    assert_eq!(num(&j, "latency_ns.count"), 999.0, "{j:#}");
    assert_eq!(j["lost"], 0);
    assert_eq!(
        j["events"], 0,
        "no wake-up above 1 µs on a quiet core: {j:#}"
    );
    // The interrupt path under icount: tens of instructions.
    let cycles = num(&j, "latency_cycles.p50");
    assert!(
        cycles > 5.0 && cycles < 100.0,
        "{cycles} instructions from fire to first timestamp: {j:#}"
    );
}

#[test]
fn injected_tick_delays_the_wakeups_it_overlaps() {
    let j = measure(&[
        "--mode",
        "timer",
        "--icount",
        "--duration",
        "1s",
        "--period",
        "1ms",
        "--inject-tick",
        "250:10us",
    ]);
    assert_eq!(num(&j, "samples"), 999.0, "{j:#}");
    let max = num(&j, "latency_ns.max");
    // The tick starts 1 µs before a deadline and runs 10 µs: that wake-up is ~9 µs late.
    assert!(
        (8_000.0..=11_000.0).contains(&max),
        "max latency {max} ns: {j:#}"
    );
    let eps = num(&j, "events_per_s");
    assert!(
        (eps - 250.0).abs() <= 1.0,
        "every 4th wake-up is delayed: {eps}/s: {j:#}"
    );
    assert!(num(&j, "latency_ns.p50") < 1000.0, "{j:#}");
}

#[test]
fn the_same_icount_run_repeats_bit_for_bit() {
    let args = [
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "1s",
        "--inject-tick",
        "1000:5us",
    ];
    let mut a = measure(&args);
    let mut b = measure(&args);
    for j in [&mut a, &mut b] {
        j.as_object_mut().unwrap().remove("run_dir");
    }
    assert_eq!(a, b, "two identical icount runs differ");
}

#[test]
fn several_measured_cores_give_per_core_results() {
    let j = measure(&[
        "--mode",
        "timer",
        "--icount",
        "--duration",
        "500ms",
        "--smp",
        "4",
        "--core",
        "2,3",
        "--inject-tick",
        "1000:5us",
    ]);
    let cores = j["cores"].as_array().unwrap();
    assert_eq!(cores.len(), 2, "{j:#}");
    assert_eq!(cores[0]["core"], 2);
    assert_eq!(cores[1]["core"], 3);
    for c in cores {
        assert_eq!(c["samples"], 499, "{c:#}");
        assert_eq!(
            c["ticks"], 499,
            "each measured core takes its own injected tick: {c:#}"
        );
    }
}

#[test]
fn other_cores_running_show_up_as_gaps_under_icount() {
    // Under -icount QEMU runs all vCPUs round-robin in one thread: instructions of another core
    // advance virtual time while the measured core is descheduled. This is why core 0 stays in
    // WFI during the window by default; with interference on, the gaps appear.
    let quiet = measure(&["--mode", "noise", "--icount", "--duration", "1s"]);
    let busy = measure(&[
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "1s",
        "--interference",
    ]);
    assert_eq!(quiet["events"], 0);
    assert!(num(&busy, "events") >= 1.0, "{busy:#}");
    assert!(
        num(&busy, "event_ns.max") >= 1e7,
        "round-robin slices are long: {busy:#}"
    );
}

#[test]
fn tcg_runs_are_labelled_and_still_work() {
    let j = measure(&["--mode", "timer", "--duration", "300ms", "--period", "1ms"]);
    assert_eq!(j["emulation"], "tcg");
    assert!(num(&j, "samples") > 100.0, "{j:#}");
}
