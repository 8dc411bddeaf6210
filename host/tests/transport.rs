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
            "measure", "--mode", "timer", "--icount", "--duration", "500ms", "--period", "1ms", "--inject-tick",
            "250:10us", "--transport", transport, "--reduce", "raw", "--json", "--out", &o,
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
