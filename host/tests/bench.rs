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
        "noise_loop.instructions_per_iteration",
        "boot.virtual_ns_to_all_cores_online",
        "boot.virtual_ns_to_first_sample",
    ] {
        let f = &figures[key];
        assert!(f["value"].as_f64().unwrap() > 0.0, "{key}: {f:#}");
        assert!(
            !f["unit"].as_str().unwrap().is_empty() && !f["how"].as_str().unwrap().is_empty(),
            "{key}"
        );
    }
    let irq = a["values"]["irq_latency.el1_gicv2.instructions"]
        .as_f64()
        .unwrap();
    assert!(irq <= 100.0, "goal: at most 100 instructions, got {irq}");
}

#[test]
fn host_figures_are_labelled_as_such() {
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
        assert!(j["figures"][key]["value"].as_f64().unwrap() > 0.0, "{key}");
    }
    assert!(j["values"]["wire.bytes_per_timer_sample"].as_f64().unwrap() < 16.0);
}
