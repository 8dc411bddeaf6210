//! Foundation, end to end under QEMU: every core comes up at the asked EL with the asked GIC, NEON
//! works, and every fault kind is reported loudly with a non-zero exit.

mod common;
use common::*;

fn boot(el: u8, entry: u8, gic: u8, smp: u16) -> serde_json::Value {
    let d = tmp();
    let r = tickscope(&[
        "boot",
        "--el",
        &el.to_string(),
        "--entry-el",
        &entry.to_string(),
        "--gic",
        &gic.to_string(),
        "--smp",
        &smp.to_string(),
        "--json",
        "--out",
        &out(&d, "boot"),
    ]);
    r.expect_status(0);
    r.json()
}

#[test]
fn every_el_gic_and_core_count_boots() {
    for el in [1u8, 2] {
        for gic in [2u8, 3] {
            for smp in [1u16, 4] {
                let j = boot(el, el, gic, smp);
                assert_eq!(j["cores_online"], smp, "EL{el} GICv{gic} smp {smp}: {j:#}");
                assert_eq!(j["el"], el, "{j:#}");
                assert_eq!(j["entry_el"], el, "{j:#}");
                assert_eq!(j["gic"], gic, "{j:#}");
                assert_eq!(j["neon_ok"], true, "{j:#}");
                let cores = j["cores"].as_array().unwrap();
                assert!(
                    cores.iter().all(|c| c["el"] == el),
                    "every core at EL{el}: {j:#}"
                );
            }
        }
    }
}

#[test]
fn drops_from_el2_to_el1_on_every_core() {
    for gic in [2u8, 3] {
        let j = boot(1, 2, gic, 4);
        assert_eq!(
            (j["el"].as_u64(), j["entry_el"].as_u64()),
            (Some(1), Some(2)),
            "{j:#}"
        );
        assert_eq!(j["cores_online"], 4, "{j:#}");
        assert!(
            j["cores"].as_array().unwrap().iter().all(|c| c["el"] == 1),
            "{j:#}"
        );
    }
}

#[test]
fn eight_cores_at_el2_with_gicv3_report_their_mpidrs() {
    let j = boot(2, 2, 3, 8);
    assert_eq!(j["cores_online"], 8);
    let mpidrs: Vec<&str> = j["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["mpidr"].as_str().unwrap())
        .collect();
    assert_eq!(
        mpidrs,
        ["0x0", "0x1", "0x2", "0x3", "0x4", "0x5", "0x6", "0x7"]
    );
}

#[test]
fn each_fault_kind_is_reported_with_class_and_esr() {
    // (kind, exit status, text that must appear on the output)
    let cases = [
        ("undef", 3, "Unknown reason (undefined instruction)"),
        ("data-abort", 3, "Data abort (same EL)"),
        ("panic", 4, "deliberate panic"),
        ("unclaimed-irq", 3, "INTID 15"),
        ("stack-overflow", 3, "stack overflow on core 3"),
    ];
    for (el, gic) in [(1u8, 2u8), (1, 3), (2, 2), (2, 3)] {
        for (kind, status, text) in cases {
            let d = tmp();
            let r = tickscope(&[
                "boot",
                "--fault",
                kind,
                "--el",
                &el.to_string(),
                "--gic",
                &gic.to_string(),
                "--out",
                &out(&d, "f"),
            ]);
            let all = format!("{}{}", r.stdout, r.stderr);
            assert_eq!(r.status, status, "--fault {kind} at EL{el}: {all}");
            assert!(
                all.contains(text),
                "--fault {kind}: missing `{text}` in:\n{all}"
            );
            if kind != "panic" {
                assert!(all.contains("ESR"), "--fault {kind}: no ESR in:\n{all}");
                assert!(
                    all.contains("ELR") && all.contains("FAR") && all.contains("SPSR"),
                    "{all}"
                );
                assert!(
                    all.contains("on core 3"),
                    "the fault comes from the last core: {all}"
                );
            }
        }
    }
}

#[test]
fn a_stack_overflow_is_reported_from_the_exception_stack_with_the_faulting_function() {
    // Thread code runs on SP_EL0 and exceptions on each core's own SP_ELx: the overflowing store
    // faults into the guard page, and the report comes from a stack that works, naming the
    // function that overflowed (not the vector), while every other core stops as asked.
    for (el, gic) in [(1u8, 2u8), (2, 3)] {
        let d = tmp();
        let r = tickscope(&[
            "boot",
            "--fault",
            "stack-overflow",
            "--el",
            &el.to_string(),
            "--gic",
            &gic.to_string(),
            "--json",
            "--out",
            &out(&d, "f"),
        ]);
        r.expect_status(3);
        let j = r.json();
        let f = &j["fault"];
        assert_eq!(f["stack_overflow_core"], 3, "{j:#}");
        assert_eq!(f["function"], "tickscope_fw::fault::recurse", "{j:#}");
        assert_eq!(f["vector"], "synchronous (current EL, SP_EL0)", "{j:#}");
        assert_eq!(f["el"], el);
        assert_eq!(j["cores_online"], 4);
        let console = std::fs::read_to_string(d.path().join("f/console.log")).unwrap();
        assert!(!console.contains("did not confirm"), "{console}");
        assert!(
            console.contains("stack overflow on core 3: FAR is in the guard page below its stack"),
            "{console}"
        );
    }
}

#[test]
fn a_trap_to_el2_after_the_drop_is_reported_by_our_el2_vectors() {
    // Dropped from EL2 to EL1, an HVC traps to EL2: VBAR_EL2 points at the firmware's vectors
    // (not the loader's, or nothing), so it is a loud fault at EL2 from a lower EL.
    for gic in ["2", "3"] {
        let d = tmp();
        let r = tickscope(&[
            "boot",
            "--fault",
            "hvc",
            "--entry-el",
            "2",
            "--el",
            "1",
            "--gic",
            gic,
            "--json",
            "--out",
            &out(&d, "f"),
        ]);
        r.expect_status(3);
        let f = &r.json()["fault"];
        assert_eq!(f["el"], 2, "{f:#}");
        assert_eq!(f["ec"], 0x16, "HVC instruction execution: {f:#}");
        assert_eq!(f["vector"], "synchronous (lower EL, AArch64)", "{f:#}");
        assert_eq!(f["core"], 3);
    }
    let r = tickscope(&["boot", "--fault", "hvc", "--el", "1"]);
    r.expect_status(2);
}

#[test]
fn a_pmu_the_hypervisor_traps_is_detected_and_the_run_goes_on_without_cycles() {
    // Entered at EL2, the firmware sets MDCR_EL2.TPM before dropping to EL1, as a hypervisor that
    // keeps the PMU would: EL1's trial read traps, the vectors without the cycle read are
    // installed on every core, and the run (whose interrupts all go through them) succeeds.
    for (args, cycles) in [
        (
            &["--fault", "pmu-trap", "--entry-el", "2", "--el", "1"][..],
            "unavailable",
        ),
        (&["--entry-el", "2", "--el", "1"][..], "available"),
    ] {
        for gic in ["2", "3"] {
            let d = tmp();
            let o = out(&d, "b");
            let mut all = vec!["boot", "--gic", gic, "--json", "--out", &o];
            all.extend_from_slice(args);
            let r = tickscope(&all);
            r.expect_status(0);
            let j = r.json();
            assert_eq!(j["cycles"], cycles, "{args:?} GICv{gic}: {j:#}");
            assert_eq!(j["cores_online"], 4);
        }
    }
}

#[test]
fn bad_configuration_is_refused_before_booting() {
    let d = tmp();
    let r = tickscope(&[
        "measure",
        "--mode",
        "timer",
        "--core",
        "9",
        "--smp",
        "4",
        "--out",
        &out(&d, "x"),
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("core 9 does not exist"), "{}", r.stderr);
    let r = tickscope(&[
        "measure",
        "--mode",
        "timer",
        "--period",
        "100ns",
        "--out",
        &out(&d, "y"),
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("below the resolution"), "{}", r.stderr);
    let r = tickscope(&["measure", "--mode", "jitter"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    let r = tickscope(&["boot", "--gic", "2", "--smp", "9"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("GICv2 supports at most 8 cores"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_hung_guest_is_killed_and_reported() {
    // A measurement far longer than the timeout: QEMU is killed, the run reports it and exits 124.
    let d = tmp();
    let r = tickscope(&[
        "measure",
        "--mode",
        "noise",
        "--duration",
        "600s",
        "--timeout",
        "3",
        "--out",
        &out(&d, "h"),
    ]);
    assert_eq!(r.status, 124, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("did not finish within"), "{}", r.stderr);
}

#[test]
fn the_release_image_fits_its_40_kib_budget_without_core_fmt() {
    let r = tickscope(&["image", "--json"]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(num(&j, "limit_bytes"), 40960.0, "{j:#}");
    assert!(num(&j, "image_bytes") <= 40960.0, "{j:#}");
    assert!(num(&j, "image_bytes") > 4096.0, "{j:#}");
    assert_eq!(j["formatting_symbols"], serde_json::json!([]), "{j:#}");
}

#[test]
fn psci_errors_are_reported_by_name() {
    // Ask the firmware for 6 cores on a 4-core machine: CPU_ON for the two missing MPIDRs fails,
    // the console gives the PSCI code, the host names it from the frame, the run ends non-zero.
    let (code, text, d) = firmware_alone("virt", "4", &semihosting_config("mode=boot smp=6"));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("PSCI CPU_ON core 4 (MPIDR 0x4) failed: PSCI code -2"),
        "{text}"
    );
    assert!(text.contains("only 4 of 6 cores came online"), "{text}");
    let decoded = decoded_capture(&d);
    assert_eq!(decoded.status, 1, "the trailer carries the failure status");
    let j = decoded.json();
    assert_eq!(
        j["psci_failures"],
        serde_json::json!([
            "core 4 (MPIDR 0x4): INVALID_PARAMETERS",
            "core 5 (MPIDR 0x5): INVALID_PARAMETERS"
        ]),
        "{j:#}"
    );
}

/// `tickscope decode --json` of the capture a [`firmware_alone`] run left.
fn decoded_capture(d: &tempfile::TempDir) -> Run {
    tickscope(&[
        "decode",
        d.path().join("capture.bin").to_str().unwrap(),
        "--json",
    ])
}

/// The firmware refused the run on the console, and the host words why from its frame.
fn assert_refused(d: &tempfile::TempDir, console: &str, why: &str) {
    assert!(console.contains("tickscope: run refused"), "{console}");
    assert!(
        !console.contains(why),
        "the image carries no words for it: {console}"
    );
    let decoded = decoded_capture(d);
    assert_eq!(
        decoded.status, 2,
        "the trailer carries the configuration status"
    );
    let j = decoded.json();
    let problem = j["problem"].as_str().unwrap_or_default();
    assert!(
        problem.starts_with("the firmware refused the run: ") && problem.contains(why),
        "{j:#}"
    );
}

/// Runs the release image under QEMU directly (no host checks): `-M machine -smp cores`, the
/// firmware given `semihosting` (a `-semihosting-config` value). (exit code, console, the
/// directory QEMU ran in, which holds capture.bin).
fn firmware_alone(
    machine: &str,
    cores: &str,
    semihosting: &str,
) -> (Option<i32>, String, tempfile::TempDir) {
    let img = tickscope(&["image", "--json"]);
    img.expect_status(0);
    let elf = img.json()["elf"].as_str().unwrap().to_string();
    let d = tmp();
    let out = std::process::Command::new("qemu-system-aarch64")
        .args([
            "-M",
            machine,
            "-cpu",
            "cortex-a72",
            "-smp",
            cores,
            "-m",
            "256M",
        ])
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-kernel",
            &elf,
            "-serial",
            "none",
        ])
        .args(["-semihosting-config", semihosting])
        .current_dir(d.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        d,
    )
}

#[test]
fn the_firmware_itself_refuses_more_than_8_cores_on_gicv2() {
    // The host refuses `--gic 2 --smp 9`; a configuration built elsewhere reaches the firmware
    // unchecked, and the firmware refuses it too (an SGI's target list has 8 bits).
    let v2 = "virt,gic-version=2";
    let (code, text, d) = firmware_alone(v2, "8", &semihosting_config("mode=boot smp=9 gic=2"));
    assert_eq!(code, Some(2), "{text}");
    assert_refused(
        &d,
        &text,
        "core 0: interrupt controller: smp=9, but GICv2 reaches 8 cores at most",
    );
    // "Every core" on a GICv2 means the 8 it can reach.
    let (code, text, _) = firmware_alone(v2, "8", &semihosting_config("mode=boot"));
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_text_command_line_is_refused_by_the_firmware_with_the_form_it_reads() {
    // The image has no text parser: settings come as `cfg=HEX` (`tickscope config`). An old-style
    // `arg=mode=boot` line is reported, not guessed at, and the run fails.
    let line = "enable=on,target=native,arg=tickscope,arg=mode=boot,arg=smp=2";
    let (code, text, d) = firmware_alone("virt", "2", line);
    assert_eq!(code, Some(2), "{text}");
    assert_refused(
        &d,
        &text,
        "invalid configuration: not this firmware's configuration form (cfg=HEX, as `tickscope config` writes it)",
    );
}
