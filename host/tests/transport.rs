//! The same run over semihosting and over the PL011 decodes to the same figures.

mod common;
use common::*;

#[test]
fn uart_and_semihosting_captures_decode_to_the_same_results() {
    let d = tmp();
    let mut results = Vec::new();
    for transport in ["semihosting", "uart"] {
        let o = out(&d, transport);
        let r = tickscope(&[
            "measure",
            "--mode",
            "timer",
            "--icount",
            "--duration",
            "500ms",
            "--period",
            "1ms",
            "--inject-tick",
            "250:10us",
            "--transport",
            transport,
            "--reduce",
            "raw",
            "--json",
            "--out",
            &o,
        ]);
        r.expect_status(0);
        let mut j = r.json();
        let obj = j.as_object_mut().unwrap();
        obj.remove("run_dir");
        results.push(j);
        // The raw capture can be decoded again later.
        let again = tickscope(&["decode", &format!("{o}/capture.bin"), "--json"]);
        again.expect_status(0);
    }
    assert_eq!(results[0], results[1], "semihosting and UART runs disagree");
}

#[test]
fn a_slow_link_gets_histograms_with_the_same_figures() {
    // 1000 wake-ups/s do not fit 115200 baud as raw samples: the firmware reduces on the device
    // and says so; the figures agree with a raw run within the histogram's error.
    let d = tmp();
    let run = |transport: &str, reduce: &str, name: &str| {
        let o = out(&d, name);
        let r = tickscope(&[
            "measure",
            "--mode",
            "timer",
            "--icount",
            "--duration",
            "500ms",
            "--inject-tick",
            "250:10us",
            "--transport",
            transport,
            "--reduce",
            reduce,
            "--json",
            "--out",
            &o,
        ]);
        r.expect_status(0);
        r.json()
    };
    let raw = run("semihosting", "raw", "raw");
    let reduced = run("uart", "auto", "reduced");
    assert_eq!(reduced["cores"][0]["reduced"], true, "{reduced:#}");
    assert_eq!(raw["cores"][0]["reduced"], false);
    assert_eq!(reduced["samples"], raw["samples"]);
    assert_eq!(reduced["events"], raw["events"]);
    for q in ["min", "p50", "p99", "max"] {
        let (a, b) = (
            num(&raw, &format!("latency_ns.{q}")),
            num(&reduced, &format!("latency_ns.{q}")),
        );
        assert!(
            (a - b).abs() <= a * 0.01,
            "latency {q}: raw {a}, reduced {b}"
        );
    }
    assert_eq!(
        raw["cores"][0]["per_second"],
        reduced["cores"][0]["per_second"]
    );
}
