//! The firmware started through UEFI, as servers and the Enzian start code: `image --efi` writes a
//! PE/COFF application UEFI would start (checked here byte by byte, not by the code that wrote
//! it), and EDK2 for QEMU `virt` starts it at EL1 and EL2 with the direct boot's figures.

mod common;
use common::*;

use std::time::Duration;

/// Little-endian u16 / u32 at `at`.
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// What UEFI's loader checks first, read straight from the file: MZ, the PE signature, arm64,
/// PE32+, an EFI application, the entry inside an executable section, base relocations.
/// Returns the section names.
fn check_pe(file: &[u8]) -> Vec<String> {
    assert_eq!(&file[..2], b"MZ", "DOS header");
    let pe = u32_at(file, 0x3c) as usize;
    assert_eq!(&file[pe..pe + 4], b"PE\0\0", "PE signature");
    let coff = pe + 4;
    assert_eq!(u16_at(file, coff), 0xaa64, "machine: arm64");
    let sections = u16_at(file, coff + 2) as usize;
    let opt_size = u16_at(file, coff + 16) as usize;
    let opt = coff + 20;
    assert_eq!(u16_at(file, opt), 0x20b, "PE32+ optional header");
    let entry = u32_at(file, opt + 16);
    assert_eq!(u16_at(file, opt + 68), 10, "subsystem: EFI application");
    let mut names = vec![];
    let mut entry_in_code = false;
    for i in 0..sections {
        let s = opt + opt_size + 40 * i;
        let name = String::from_utf8_lossy(&file[s..s + 8])
            .trim_end_matches('\0')
            .to_string();
        let (vsize, vaddr, flags) = (
            u32_at(file, s + 8),
            u32_at(file, s + 12),
            u32_at(file, s + 36),
        );
        if flags & 0x2000_0000 != 0 && (vaddr..vaddr + vsize).contains(&entry) {
            entry_in_code = true;
        }
        names.push(name);
    }
    assert!(
        entry_in_code,
        "entry {entry:#x} in an executable section: {names:?}"
    );
    names
}

#[test]
fn efi_image_is_an_arm64_uefi_application_carrying_the_thunderx_image() {
    let d = tmp();
    let efi = d.path().join("tickscope-thunderx.efi");
    let r = tickscope(&[
        "image",
        "--board",
        "thunderx-cn88xx",
        "--config",
        "mode=noise cores=1 duration=1s",
        "--efi",
        "--efi-out",
        efi.to_str().unwrap(),
        "--json",
    ]);
    r.expect_status(0);
    let j = r.json();
    let file = std::fs::read(&efi).unwrap();
    let names = check_pe(&file);
    assert!(
        names.iter().any(|n| n == ".reloc"),
        "relocatable: {names:?}"
    );
    // The ThunderX image, byte for byte, where the JSON says.
    let bin = std::fs::read(j["bin"].as_str().unwrap()).unwrap();
    let at = j["efi"]["payload_offset"].as_u64().unwrap() as usize;
    assert_eq!(&file[at..at + bin.len()], &bin[..]);
    assert_eq!(j["efi"]["load_address"], "0x4000000");
    assert_eq!(j["efi"]["machine"], "0xaa64");
    assert_eq!(j["efi"]["bytes"].as_u64().unwrap(), file.len() as u64);
    // The loader reserves the whole span the firmware uses, not just the image.
    assert!(
        j["efi"]["reserved_bytes"].as_u64().unwrap()
            >= j["image_bytes"].as_u64().unwrap() + j["static_ram_bytes"].as_u64().unwrap()
    );
}

/// `measure` through UEFI under icount with a 250 Hz, 10 µs injected tick.
fn measure_uefi(d: &tempfile::TempDir, name: &str, extra: &[&str]) -> serde_json::Value {
    let o = out(d, name);
    let mut args = vec![
        "measure",
        "--icount",
        "--inject-tick",
        "250:10us",
        "--duration",
        "1s",
        "--json",
        "--out",
        &o,
    ];
    args.extend_from_slice(extra);
    let r = tickscope(&args);
    r.expect_status(0);
    r.json()
}

#[test]
fn uefi_boot_at_el1_gives_the_direct_boots_figures() {
    let d = tmp();
    let uefi = measure_uefi(&d, "uefi", &["--boot", "uefi"]);
    let direct = measure_uefi(&d, "direct", &[]);
    assert_eq!(uefi["boot"], "uefi");
    assert_eq!(uefi["el"], 1);
    assert_eq!(uefi["entry_el"], 1);
    assert!(
        direct.get("boot").is_none(),
        "direct boots carry no boot key"
    );
    let ev = num(&uefi, "os_noise.events_per_s");
    assert!((249.0..=251.0).contains(&ev), "OS events/s {ev}");
    // Under icount the measured core runs the same instructions however the firmware was
    // started: every OS figure and the event count are equal. The window opens at another
    // virtual time after EDK2, so where the 16 ns counter edges fall against the 10-instruction
    // loop shifts: the iteration count may differ by one.
    let samples = |j: &serde_json::Value| num(j, "samples");
    assert!(
        (samples(&uefi) - samples(&direct)).abs() <= 1.0,
        "samples {} (UEFI) vs {} (direct)",
        samples(&uefi),
        samples(&direct)
    );
    for key in [
        "events",
        "tick_cost_ns",
        "os_noise.events",
        "os_noise.events_per_s",
    ] {
        assert_eq!(
            num(&uefi, key),
            num(&direct, key),
            "{key} differs between UEFI and direct boot"
        );
    }
    // A tick's OS time includes its exception entry and return, bounded by the smallest lead
    // and tail the run saw: each is read off a 16 ns counter edge, whose phase against the ticks
    // follows when the window opened. Two edges: within 32 ns per tick.
    for q in ["p50", "p99", "max"] {
        let key = format!("os_noise.event_ns.{q}");
        let (via_uefi, direct_boot) = (num(&uefi, &key), num(&direct, &key));
        assert!(
            (via_uefi - direct_boot).abs() <= 32.0,
            "{key}: {via_uefi} (UEFI) vs {direct_boot} (direct)"
        );
    }
    let ticks = num(&direct, "os_noise.events_per_s");
    let (via_uefi, direct_boot) = (
        num(&uefi, "os_noise.noise_ns_per_s"),
        num(&direct, "os_noise.noise_ns_per_s"),
    );
    assert!(
        (via_uefi - direct_boot).abs() <= 32.0 * ticks,
        "OS ns/s {via_uefi} (UEFI) vs {direct_boot} (direct)"
    );
    // The loop gaps' distribution (counted once per iteration: its count is the samples').
    for q in ["min", "p50", "p99", "p9999", "max"] {
        assert_eq!(
            uefi["latency_ns"][q], direct["latency_ns"][q],
            "latency_ns.{q}"
        );
    }
    // Whole event gaps are read off the 62.5 MHz counter: where its 16 ns edges fall against
    // the ticks depends on when the window opened, so single events may round to the next edge.
    for q in ["count", "min", "p50", "max"] {
        assert_eq!(uefi["event_ns"][q], direct["event_ns"][q], "event_ns.{q}");
    }
    let mean = |j: &serde_json::Value| num(j, "event_ns.mean");
    assert!(
        (mean(&uefi) - mean(&direct)).abs() <= 16.0,
        "event_ns.mean moved by more than one counter tick"
    );
    // What is not: the hardware slivers below the threshold (a few µs/s). They are the
    // emulator's round-robin between the vCPUs, which moved by 3 % between two direct boots of
    // a loaded CI machine, and the part of a tick's lead or tail beyond the smallest one seen,
    // which moves with the counter edges' phase as the OS time does: 10 % plus two edges (32 ns)
    // per tick. None of them reaches the threshold.
    assert_eq!(uefi["hw_noise"]["events"], direct["hw_noise"]["events"]);
    let slivers = |j: &serde_json::Value| num(j, "hw_noise.noise_ns_per_s");
    assert!(
        (slivers(&uefi) - slivers(&direct)).abs() <= 0.1 * slivers(&direct) + 32.0 * ticks,
        "emulator slivers {} vs {} ns/s",
        slivers(&uefi),
        slivers(&direct)
    );
    let console = std::fs::read_to_string(d.path().join("uefi/console.log")).unwrap();
    assert!(console.contains("tickscope-efi: leaving UEFI"), "{console}");
}

#[test]
fn uefi_boot_at_el2_measures_at_el2() {
    let d = tmp();
    let j = measure_uefi(&d, "el2", &["--boot", "uefi", "--el", "2", "--gic", "3"]);
    assert_eq!(j["boot"], "uefi");
    assert_eq!(j["el"], 2);
    assert_eq!(
        j["entry_el"], 2,
        "EDK2 runs at EL2 with virtualization=on and keeps it"
    );
    let ev = num(&j, "os_noise.events_per_s");
    assert!((249.0..=251.0).contains(&ev), "OS events/s {ev}");
}

#[test]
fn uefi_boot_over_the_uart_keeps_edk2s_text_apart_from_the_frames() {
    let d = tmp();
    let j = measure_uefi(&d, "uart", &["--boot", "uefi", "--transport", "uart"]);
    assert_eq!(j["frames_lost"], 0);
    assert_eq!(j["problems"].as_array().unwrap().len(), 0, "{j}");
    let ev = num(&j, "os_noise.events_per_s");
    assert!((249.0..=251.0).contains(&ev), "OS events/s {ev}");
    // EDK2's own lines and the loader's arrived as text on the same line as the frames.
    let console = std::fs::read_to_string(d.path().join("uart/console.log")).unwrap();
    assert!(console.contains("BdsDxe"), "{console}");
    assert!(console.contains("tickscope-efi: leaving UEFI"), "{console}");
}

#[test]
fn uefi_boot_brings_every_core_online() {
    let d = tmp();
    let r = tickscope(&[
        "boot",
        "--boot",
        "uefi",
        "--smp",
        "4",
        "--json",
        "--out",
        &out(&d, "b"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["cores_online"], 4);
    assert_eq!(j["boot"], "uefi");
}

#[test]
fn thunderx_stand_in_takes_the_uefi_hand_over_at_el2_drops_and_hands_the_boot_on() {
    // The stand-in runs the ThunderX paths (GICv3 errata workarounds) on QEMU: UEFI at EL2, the
    // firmware drops to EL1, and core 0 hands the boot to core 2 with PSCI.
    let d = tmp();
    let r = tickscope(&[
        "boot",
        "--board",
        "qemu-virt-cavium",
        "--boot",
        "uefi",
        "--gic",
        "3",
        "--entry-el",
        "2",
        "--el",
        "1",
        "--smp",
        "4",
        "--boot-core",
        "2",
        "--json",
        "--out",
        &out(&d, "b"),
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["cores_online"], 4);
    assert_eq!(j["boot_core"], 2);
    assert_eq!(j["entry_el"], 2);
    assert_eq!(j["el"], 1);
}

#[test]
fn a_load_address_uefi_owns_is_refused_with_its_owner_named() {
    // The top of QEMU virt's RAM holds EDK2's runtime data: a loader built to place the image
    // there must say so and return to UEFI, not overwrite it.
    use tickscope::efi::{Payload, build_loader};
    use tickscope::machine::{BootMethod, MachineSpec};
    use tickscope::qemu::{Boot, Launch, Serial};
    let d = tmp();
    let bin = d.path().join("payload.bin");
    // `b .` over and over (all zeros would land in the loader's BSS, not in its file).
    std::fs::write(&bin, [0x00, 0x00, 0x00, 0x14].repeat(1024)).unwrap();
    let esp = d.path().join("esp");
    std::fs::create_dir_all(esp.join("EFI/BOOT")).unwrap();
    let app = esp.join("EFI/BOOT/BOOTAA64.EFI");
    let payload = Payload {
        bin: &bin,
        load_address: 0x4ff0_0000,
        span_bytes: 0x10_0000,
        board: "qemu-virt",
    };
    build_loader(&payload, &root().join("target/fw/test-efi"), &app, true).unwrap();
    let board = tickscope::workspace::board("qemu-virt").unwrap();
    let machine = MachineSpec::new(&board, 1, 2, 1, None, false)
        .unwrap()
        .with_boot(BootMethod::Uefi);
    let uart = d.path().join("uart.bin");
    let launch = Launch {
        machine,
        boot: Boot::Uefi {
            firmware: tickscope::deps::uefi_firmware().unwrap(),
            esp,
        },
        initrd: None,
        append: None,
        semihosting: None,
        serial: Serial::File(uart.clone()),
        extra: vec![],
        cwd: d.path().to_path_buf(),
        timeout: Duration::from_secs(15),
    };
    let outcome = tickscope::qemu::run(&launch, &mut |_| {}).unwrap();
    assert!(
        outcome.timed_out,
        "nothing was started, so nothing ended the run"
    );
    let text = String::from_utf8_lossy(&std::fs::read(&uart).unwrap()).into_owned();
    assert!(
        text.contains("tickscope-efi: error: cannot allocate 0x4ff00000..0x50000000"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("tickscope-efi:   0x")
            && l.contains(" is ")
            && !l.contains("CONVENTIONAL")),
        "the owner is named: {text}"
    );
    assert!(!text.contains("leaving UEFI"), "{text}");
}
