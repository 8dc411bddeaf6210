//! The ThunderX stand-in under QEMU (EL2, GICv3, PSCI over SMC, 8+ cores, MMIO above 4 GiB), and
//! the ThunderX board description as the firmware and the runner use it.

mod common;
use common::*;

#[test]
fn sixteen_plus_cores_have_non_contiguous_mpidrs() {
    let d = tmp();
    let r = tickscope(&[
        "boot",
        "--el",
        "2",
        "--gic",
        "3",
        "--smp",
        "18",
        "--json",
        "--out",
        &out(&d, "b"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["cores_online"], 18);
    let mpidrs: Vec<&str> = j["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["mpidr"].as_str().unwrap())
        .collect();
    assert_eq!(mpidrs[15], "0xf");
    assert_eq!(
        &mpidrs[16..],
        ["0x100", "0x101"],
        "cluster 1 starts at 0x100, as on the ThunderX"
    );
}

#[test]
fn stand_in_runs_both_modes_at_el2_with_gicv3_on_8_cores() {
    let d = tmp();
    let o = out(&d, "noise");
    let r = tickscope(&[
        "measure",
        "--el",
        "2",
        "--gic",
        "3",
        "--smp",
        "8",
        "--icount",
        "--mode",
        "noise",
        "--duration",
        "1s",
        "--inject-tick",
        "250:10us",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!((j["el"].as_u64(), j["gic"].as_u64()), (Some(2), Some(3)));
    assert_eq!(j["measured_cores"], serde_json::json!([7]));
    assert!((num(&j, "events_per_s") - 250.0).abs() <= 1.0, "{j:#}");
    // The high-ECAM read proves 48-bit-style MMIO mapping above 4 GiB works.
    let log = std::fs::read_to_string(format!("{o}/firmware.log")).unwrap();
    assert!(
        log.contains("MMIO probe at 0x4010000000: 0x81b36 as expected"),
        "{log}"
    );

    let r = tickscope(&[
        "measure",
        "--el",
        "2",
        "--gic",
        "3",
        "--smp",
        "8",
        "--icount",
        "--mode",
        "timer",
        "--timer",
        "hyp",
        "--duration",
        "500ms",
        "--core",
        "3,7",
        "--json",
        "--out",
        &out(&d, "timer"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["cores"].as_array().unwrap().len(), 2);
    assert_eq!(num(&j, "samples"), 998.0, "{j:#}");
}

#[test]
fn thunderx_dry_run_prints_the_board_facts() {
    let r = tickscope(&[
        "boot",
        "--board",
        "thunderx-cn88xx",
        "--el",
        "2",
        "--dry-run",
        "--json",
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["load_address"], "0x4000000");
    assert_eq!(j["uart"], "pl011 at 0x87e024000000");
    assert_eq!(j["uart_clock_hz"], 50_000_000);
    assert_eq!(j["gic"][0]["gicd"], "0x801000000000");
    assert_eq!(j["gic"][0]["gicr"], "0x801080000000");
    assert_eq!(j["gic"][0]["its"], "0x801000020000");
    assert_eq!(j["psci_conduit"], "smc");
    assert_eq!(j["cores"], 48);
    assert_eq!(j["mpidrs"][47], "0x20f");
    let text = tickscope(&["boot", "--board", "thunderx-cn88xx", "--dry-run"]);
    text.expect_status(0);
    for fact in [
        "0x4000000",
        "0x87e024000000",
        "0x801000000000",
        "0x801080000000",
        "smc",
    ] {
        assert!(
            text.stdout.contains(fact),
            "{fact} missing:\n{}",
            text.stdout
        );
    }
}

#[test]
fn thunderx_image_and_bin_are_built() {
    let d = tmp();
    let bin = d.path().join("tickscope-thunderx.bin");
    let r = tickscope(&[
        "image",
        "--board",
        "thunderx-cn88xx",
        "--config",
        "mode=noise cores=47 duration=10s el=2",
        "--json",
        "--bin",
        bin.to_str().unwrap(),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["load_address"], 0x400_0000);
    assert_eq!(j["entry"], 0x400_0000);
    assert_eq!(num(&j, "limit_bytes"), 36864.0, "{j:#}");
    assert!(num(&j, "image_bytes") <= 36864.0, "{j:#}");
    let bytes = std::fs::read(&bin).unwrap();
    assert!(bytes.len() as f64 >= num(&j, "image_bytes") && bytes.len() < 70_000);
    // A ThunderX image refuses to run where its board is not (no semihosting there: the QEMU
    // runner will not launch a non-emulated board).
    let r = tickscope(&["boot", "--board", "thunderx-cn88xx"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not emulated by QEMU"), "{}", r.stderr);
}

/// The stand-in booted on a core other than MPIDR 0: QEMU starts core 0, which hands the boot to
/// core 17 (MPIDR 0x101, cluster 1) with PSCI CPU_ON and powers itself off (`--boot-core`, see
/// docs/boards.md). Every core, the new boot core and the old one included, takes its index
/// from its MPIDR; core 0 comes back as an ordinary secondary.
#[test]
fn stand_in_boots_on_a_core_other_than_mpidr_0() {
    let d = tmp();
    let r = tickscope(&[
        "boot",
        "--el",
        "2",
        "--gic",
        "3",
        "--smp",
        "18",
        "--boot-core",
        "17",
        "--json",
        "--out",
        &out(&d, "b"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["boot_core"], 17, "{j:#}");
    assert_eq!(j["boot_mpidr"], "0x101");
    assert_eq!(j["cores_online"], 18);
    let cores = j["cores"].as_array().unwrap();
    let by_core = |c: u64| cores.iter().find(|x| x["core"] == c).unwrap()["mpidr"].clone();
    assert_eq!(by_core(0), "0x0", "the old boot core is back, as core 0");
    assert_eq!(by_core(16), "0x100");
    assert_eq!(by_core(17), "0x101");
    assert!(cores.iter().all(|c| c["el"] == 2));
}

/// After a hand-off the new boot core does the I/O and measures nothing; the injected tick's known
/// answer holds on the measured core.
#[test]
fn a_handed_off_boot_measures_the_known_answer() {
    let d = tmp();
    let r = tickscope(&[
        "measure",
        "--el",
        "2",
        "--gic",
        "3",
        "--smp",
        "4",
        "--boot-core",
        "3",
        "--icount",
        "--mode",
        "noise",
        "--duration",
        "200ms",
        "--inject-tick",
        "250:10us",
        "--json",
        "--out",
        &out(&d, "m"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(
        j["cores"][0]["core"], 2,
        "the last core that is not the boot core: {j:#}"
    );
    // Ticks at start + 4 ms ... + 196 ms: 49 in the 200 ms window.
    assert_eq!(num(&j, "os_noise.events"), 49.0, "{j:#}");
    let p50 = num(&j, "os_noise.event_ns.p50");
    assert!((10_000.0..10_300.0).contains(&p50), "tick cost {p50}");
    // A measured core that is the boot core is refused before booting.
    let bad = tickscope(&[
        "measure",
        "--smp",
        "4",
        "--boot-core",
        "3",
        "--core",
        "3",
        "--icount",
        "--mode",
        "noise",
        "--duration",
        "10ms",
    ]);
    bad.expect_status(2);
    assert!(bad.stderr.contains("core 3 does the I/O"), "{}", bad.stderr);
}

/// The ThunderX acknowledge path (Cavium #23154's padding, #38545's check of ICC_AP1R0_EL1
/// around the ICC_IAR1_EL1 read) under QEMU's GICv3: the `qemu-virt-cavium` board turns both
/// on. Every injected tick is still acknowledged, ended and counted (an inverted check would
/// leave every interrupt active: no second tick), and no read is taken for spurious.
#[test]
fn the_thunderx_acknowledge_path_takes_every_tick() {
    let d = tmp();
    let r = tickscope(&[
        "measure",
        "--board",
        "qemu-virt-cavium",
        "--gic",
        "3",
        "--icount",
        "--duration",
        "1s",
        "--inject-tick",
        "250:10us",
        "--json",
        "--out",
        &out(&d, "cavium"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["board"], "qemu-virt-cavium");
    assert_eq!(num(&j, "os_noise.events_per_s"), 249.0, "{j:#}");
    assert_eq!(num(&j["cores"][0], "ticks"), 249.0, "{j:#}");
    assert_eq!(num(&j["cores"][0], "spurious_irqs"), 0.0, "{j:#}");
}
