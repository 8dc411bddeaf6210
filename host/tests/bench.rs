//! The benchmark command: its exact (-icount) figures repeat bit for bit, and every figure says
//! its unit and how it was measured.

mod common;
use common::*;

#[test]
fn icount_figures_repeat_exactly() {
    let a = tickscope(&["bench", "--only", "icount", "--json"]);
    a.expect_status(0);
    let b = tickscope(&["bench", "--only", "icount", "--json"]);
    b.expect_status(0);
    let (a, b) = (a.json(), b.json());
    assert_eq!(
        a["values"], b["values"],
        "icount figures differ between two runs"
    );
    let figures = a["figures"].as_object().unwrap();
    for key in [
        "firmware.qemu-virt.image_bytes",
        "irq_latency.el1_gicv2.instructions",
        "irq_latency.el2_gicv3.instructions",
        "irq_latency.el1_gicv2.entry_instructions",
        "noise_loop.instructions_per_iteration",
        "boot.virtual_ns_to_all_cores_online",
        "boot.virtual_ns_to_first_sample",
    ] {
        let f = &figures[key];
        assert!(
            !f["unit"].as_str().unwrap().is_empty() && !f["how"].as_str().unwrap().is_empty(),
            "{key}"
        );
    }
    let v = |k: &str| a["values"][k].as_f64().unwrap();
    // The image the icount figures measured is the one the committed baseline holds (its size
    // is exact on every machine: the revision is padded, registry paths remapped).
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("results/baselines/bench.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        v("firmware.qemu-virt.image_bytes"),
        committed["figures"]["firmware.qemu-virt.image_bytes"]["value"]
            .as_f64()
            .unwrap(),
        "the image changed: regenerate results/baselines/bench.json (see docs/benchmarks.md, The gate)"
    );
    // Known answers: the noise loop is 10 instructions (the counter's tick over the window adds
    // the rest); the window opens 1 ms after the boot core asks for it, once all cores are up
    // (tens of µs: the exact figure moves with the console line's length, which carries the
    // revision, `-dirty` or not, so it repeats within a build, not across builds).
    let per_iteration = v("noise_loop.instructions_per_iteration");
    assert!(
        (10.0..10.001).contains(&per_iteration),
        "{per_iteration} instructions per loop iteration"
    );
    let online = v("boot.virtual_ns_to_all_cores_online");
    let first = v("boot.virtual_ns_to_first_sample");
    assert!(
        (10_000.0..100_000.0).contains(&online),
        "{online} ns to all cores online"
    );
    assert!(
        (1_000_000.0..1_000_000.0 + 2.0 * online + 100_000.0).contains(&first),
        "{first} ns to the first sample, {online} to all cores online"
    );
    // The floor is the vector's first instructions (goal: at most 8), on every EL and GIC; the
    // entry cost (register saves, acknowledge, dispatch) is its own, larger figure.
    for el_gic in ["el1_gicv2", "el1_gicv3", "el2_gicv2", "el2_gicv3"] {
        let v = |k: &str| {
            a["values"][format!("irq_latency.{el_gic}.{k}")]
                .as_f64()
                .unwrap()
        };
        let (floor, entry) = (v("instructions"), v("entry_instructions"));
        let uncertainty = v("calibration_uncertainty");
        assert!(floor <= 8.0, "{el_gic}: floor {floor} instructions");
        assert!(entry > floor, "{el_gic}: entry {entry}, floor {floor}");
        // The vector reads the cycle counter at its 4th instruction: the true floor is at least
        // 3, and the figure is a lower bound at most `uncertainty` low.
        assert!(
            floor + uncertainty >= 3.0,
            "{el_gic}: floor {floor}, uncertainty {uncertainty}"
        );
        if exact() {
            assert_eq!((floor, uncertainty), (2.0, 2.0), "{el_gic}");
        }
    }
}

#[test]
fn host_figures_are_labelled_as_such_and_agree_with_the_exact_ones() {
    let r = tickscope(&["bench", "--only", "host", "--samples", "200000", "--json"]);
    r.expect_status(0);
    let j = r.json();
    for key in [
        "host.decode_mb_per_s",
        "host.decode_samples_per_s",
        "host.stats_samples_per_s",
        "host.report_10m_seconds",
    ] {
        assert_eq!(j["figures"][key]["kind"], "host", "{key}");
    }
    // Machine-dependent speeds cannot be pinned, but the two decode figures come from one run:
    // megabytes per second over samples per second is the decoded capture's bytes per sample,
    // which its exact size gives independently (the capture also holds the run's header,
    // checkpoints and end frames, so this is not the per-sample wire figure).
    let v = |k: &str| j["values"][k].as_f64().unwrap();
    let per_sample = v("host.decode_mb_per_s") * 1e6 / v("host.decode_samples_per_s");
    let capture = v("wire.decode_capture_bytes") / 200_000.0;
    assert!(
        (per_sample - capture).abs() / capture < 1e-4,
        "{per_sample} bytes per decoded sample, the capture holds {capture}"
    );
    let exact = v("wire.bytes_per_timer_sample");
    assert!(
        exact <= capture,
        "a timer sample costs {exact} bytes on the wire, more than the capture's {capture} per sample"
    );
    // Delta-coded 32-sample blocks of the synthetic run: 5.58 bytes (8.09 before delta coding).
    assert_eq!(
        exact,
        committed_value("wire.bytes_per_timer_sample"),
        "the wire format changed: regenerate results/baselines/bench.json"
    );
}

#[test]
fn the_bench_gate_passes_its_baseline_and_catches_a_slowed_decode() {
    // The committed baseline holds for the release build (the test command checks it); this
    // test's build may be a debug one, so it makes its own baseline with it, then checks the
    // same build passes and the same build with a decode three times slower fails.
    let d = tmp();
    let base = d.path().join("bench.json");
    let base = base.to_str().unwrap();
    let w = tickscope(&[
        "bench",
        "--only",
        "sizes,host",
        "--samples",
        "500000",
        "--write-baseline",
        base,
    ]);
    w.expect_status(0);
    let check = |env: &[(&str, &std::path::Path)]| {
        tickscope_env(&["bench", "--check", base, "--json"], env)
    };
    let r = check(&[]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["failed"].as_array().unwrap().len(), 0, "{j:#}");
    let gated: Vec<&str> = j["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["figure"].as_str().unwrap())
        .collect();
    for key in [
        "firmware.qemu-virt.image_bytes",
        "wire.bytes_per_timer_sample",
        "host.decode_vs_crc",
        "host.report_peak_bytes_per_sample",
    ] {
        assert!(gated.contains(&key), "{key} is gated: {gated:?}");
    }
    let slow = std::path::Path::new("decode:3");
    let r = check(&[("TICKSCOPE_BENCH_SLOWDOWN", slow)]);
    assert_eq!(r.status, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.json()["failed"],
        serde_json::json!(["host.decode_vs_crc"])
    );
    // The committed baseline is a baseline, with every gated group.
    let committed = root().join("results/baselines/bench.json");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed).unwrap()).unwrap();
    assert!(
        c["figures"]["host.decode_vs_crc"]["min"].as_f64().unwrap() > 0.0,
        "{c:#}"
    );
}

/// A figure of the committed benchmark baseline.
fn committed_value(key: &str) -> f64 {
    let c: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("results/baselines/bench.json")).unwrap(),
    )
    .unwrap();
    c["figures"][key]["value"].as_f64().unwrap()
}
