//! `tickscope boot`: bring up every core, report cores online, EL, GIC and the NEON check; with
//! `--fault KIND` prove that faults are reported loudly; with `--dry-run` print what would be used.

use anyhow::Result;
use clap::ValueEnum;
use serde::Serialize;
use tickscope_core::board::BoardDesc;
use tickscope_core::config::{Config, FaultKind, Mode};
use tickscope_core::exception::{abort_status_name, class_name, esr_class};
use tickscope_core::wire::msg::FaultReport;

use super::options::{MachineArgs, TransportArg};
use super::output::print_json;
use crate::guest::bare;
use crate::machine::MachineSpec;
use crate::pipeline::{self, Output, Request};
use crate::record::Policy;
use crate::{status, workspace};

/// Faults that can be triggered.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultArg {
    /// Undefined instruction.
    Undef,
    /// Load from an unmapped address.
    DataAbort,
    /// A Rust panic.
    Panic,
    /// An interrupt nobody handles.
    UnclaimedIrq,
    /// Recursion until the thread stack overflows into its guard page.
    StackOverflow,
    /// A trap to EL2 from EL1 (HVC after the drop; needs --entry-el 2 --el 1).
    Hvc,
    /// Not a fault: EL2 traps EL1's PMU accesses (as a hypervisor may; needs --entry-el 2
    /// --el 1); the run must go on without cycle timestamps and say so.
    PmuTrap,
}

/// `tickscope boot` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope boot --el 2 --gic 3 --smp 8 --json
  tickscope boot --entry-el 2 --el 1          # enter at EL2, drop to EL1
  tickscope boot --fault data-abort           # prove fault reports (exits 3)
  tickscope boot --board thunderx-cn88xx --dry-run")]
pub struct Args {
    #[command(flatten)]
    machine: MachineArgs,
    /// Trigger a fault on the last core after boot.
    #[arg(long, value_enum)]
    fault: Option<FaultArg>,
    /// Output transport.
    #[arg(long, value_enum, default_value = "semihosting")]
    transport: TransportArg,
    /// Print the load address, UART, GIC and PSCI facts that would be used, and exit.
    #[arg(long)]
    dry_run: bool,
    /// Run directory.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Replace the run already in `--out` (without it, a directory holding a run is refused).
    #[arg(long = "force")]
    out_force: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct CoreJson {
    core: u16,
    mpidr: String,
    el: u8,
}

#[derive(Serialize)]
struct FaultJson {
    core: u16,
    el: u8,
    vector: String,
    class: String,
    ec: u8,
    esr: String,
    elr: String,
    far: String,
    spsr: String,
    intid: Option<u32>,
    /// The function ELR points into (from the image's symbols).
    function: Option<String>,
    /// The core whose thread stack overflowed, when FAR is in the guard page below it.
    stack_overflow_core: Option<u16>,
}

#[derive(Serialize)]
struct BootJson {
    cores_online: usize,
    /// The core that ran the boot and the I/O (after a `--boot-core` hand-off, that core).
    boot_core: Option<u16>,
    /// Its MPIDR.
    boot_mpidr: Option<String>,
    el: u8,
    gic: u8,
    neon_ok: bool,
    entry_el: u8,
    /// `available`, or `unavailable` when the PMU is absent or trapped (no cycle timestamps).
    cycles: String,
    /// `direct` (QEMU's loader) or `uefi`.
    boot: String,
    smp: u16,
    emulation: String,
    cores: Vec<CoreJson>,
    psci_failures: Vec<String>,
    fault: Option<FaultJson>,
    panic: Option<String>,
    status: u8,
    run_dir: String,
}

/// Runs `boot`.
pub fn run(a: Args) -> Result<u8> {
    if a.dry_run {
        return dry_run(&a);
    }
    let machine = a.machine.spec(false)?;
    if matches!(a.fault, Some(FaultArg::Hvc | FaultArg::PmuTrap))
        && !(machine.entry_el == 2 && a.machine.el == 1)
    {
        return Err(crate::fail(
            status::CONFIG,
            "--fault hvc and pmu-trap trap from EL1 to EL2: use --entry-el 2 --el 1",
        ));
    }
    let req = Request::Bare(bare::Request {
        machine: machine.clone(),
        config: config(&a, &machine),
        timeout: a.machine.timeout(),
        quiet: a.json,
    });
    let out = Output {
        label: "boot".into(),
        out: a.out.clone(),
        policy: Policy::default(),
        plots: false,
        replace: a.out_force,
    };
    let r = pipeline::run(&req, &out)?;
    let out = boot_json(&r, &machine)?;
    if a.json {
        print_json(&out)?;
    } else {
        print_text(&out, &r.record.console);
    }
    print_problems(&out, &r);
    Ok(out.status)
}

/// The firmware's configuration for a boot run.
fn config(a: &Args, machine: &MachineSpec) -> Config {
    Config {
        mode: Mode::Boot,
        el: a.machine.el,
        smp: a.machine.smp,
        gic: a.machine.gic,
        fault: match a.fault {
            None => FaultKind::None,
            Some(FaultArg::Undef) => FaultKind::Undef,
            Some(FaultArg::DataAbort) => FaultKind::DataAbort,
            Some(FaultArg::Panic) => FaultKind::Panic,
            Some(FaultArg::UnclaimedIrq) => FaultKind::UnclaimedIrq,
            Some(FaultArg::StackOverflow) => FaultKind::StackOverflow,
            Some(FaultArg::Hvc) => FaultKind::Hvc,
            Some(FaultArg::PmuTrap) => FaultKind::PmuTrap,
        },
        transport: a.transport.transport(),
        icount: machine.icount,
        boot_core: a.machine.boot_core,
        ..Config::default()
    }
}

/// The first fault, with the function ELR points into and the stack it overflowed, if it did.
fn fault_json(f: &FaultReport, machine: &MachineSpec) -> Result<FaultJson> {
    let board = workspace::board(&machine.board)?;
    let elf = crate::firmware::elf_path(&machine.board)?;
    let ec = esr_class(f.esr);
    let mut class = class_name(ec).to_string();
    if let Some(d) = abort_status_name(f.esr) {
        class = format!("{class}, {d}");
    }
    Ok(FaultJson {
        core: f.core,
        el: f.el,
        vector: f.slot.name().into(),
        class: if f.intid != u32::MAX {
            "unclaimed interrupt".into()
        } else {
            class
        },
        ec,
        esr: format!("{:#x}", f.esr),
        elr: format!("{:#x}", f.elr),
        far: format!("{:#x}", f.far),
        spsr: format!("{:#x}", f.spsr),
        intid: (f.intid != u32::MAX).then_some(f.intid),
        function: crate::firmware::function_at(&elf, f.elr),
        stack_overflow_core: match board.layout().place(f.far) {
            tickscope_core::layout::Place::Guard(core) => Some(core),
            _ => None,
        },
    })
}

/// What `boot --json` prints, and the exit status.
fn boot_json(r: &pipeline::Run, machine: &MachineSpec) -> Result<BootJson> {
    let an = &r.analysis;
    let header = an.header.as_ref();
    let fault = an
        .faults
        .first()
        .map(|f| fault_json(f, machine))
        .transpose()?;
    let panic = an
        .panics
        .first()
        .map(|p| format!("core {} at {}:{}: {}", p.core, p.file, p.line, p.message));
    let mut status = r.status();
    let neon_ok = an.neon_ok();
    if status == status::OK && (an.online.len() != machine.smp as usize || !neon_ok) {
        status = status::FAILURE;
    }
    let boot_core = header.map(|h| h.boot_core);
    let out = BootJson {
        cores_online: an.online.len(),
        boot_core,
        boot_mpidr: boot_core
            .and_then(|c| an.online.get(&c))
            .map(|c| format!("{:#x}", c.mpidr)),
        el: header.map(|h| h.el).unwrap_or(0),
        gic: header.map(|h| h.gic).unwrap_or(0),
        neon_ok,
        entry_el: header.map(|h| h.boot_el).unwrap_or(0),
        cycles: if header.is_some_and(|h| h.pmu) {
            "available"
        } else {
            "unavailable"
        }
        .into(),
        boot: machine.boot.name().into(),
        smp: machine.smp,
        emulation: machine.emulation().name().into(),
        cores: an
            .online
            .values()
            .map(|c| CoreJson {
                core: c.core,
                mpidr: format!("{:#x}", c.mpidr),
                el: c.el,
            })
            .collect(),
        psci_failures: an.psci_failure_lines(),
        fault,
        panic,
        status,
        run_dir: r.dir.path.display().to_string(),
    };
    Ok(out)
}

/// The human form: the console, then the cores.
fn print_text(out: &BootJson, console: &str) {
    print!("{console}");
    println!(
        "cores online: {}/{}   EL{} (entered at EL{})   GICv{}   NEON {}   cycles: {}   [{}]",
        out.cores_online,
        out.smp,
        out.el,
        out.entry_el,
        out.gic,
        if out.neon_ok { "ok" } else { "FAILED" },
        out.cycles,
        out.emulation
    );
    for c in &out.cores {
        let role = if Some(c.core) == out.boot_core {
            "  (boot core)"
        } else {
            ""
        };
        println!(
            "  core {:2}  MPIDR {:>6}  EL{}{role}",
            c.core, c.mpidr, c.el
        );
    }
    for p in &out.psci_failures {
        println!("  PSCI CPU_ON failed: {p}");
    }
}

/// The fault, panic or first problem on stderr (both forms).
fn print_problems(out: &BootJson, r: &pipeline::Run) {
    if let Some(f) = &out.fault {
        if let Some(core) = f.stack_overflow_core {
            eprintln!(
                "tickscope: stack overflow on core {core} in {}",
                f.function.as_deref().unwrap_or("an unknown function")
            );
        }
        eprintln!(
            "tickscope: firmware fault on core {} at EL{}, vector {}: {} (EC {:#04x}) ESR {} ELR {} FAR {} SPSR {}{}",
            f.core,
            f.el,
            f.vector,
            f.class,
            f.ec,
            f.esr,
            f.elr,
            f.far,
            f.spsr,
            f.intid.map(|i| format!(" INTID {i}")).unwrap_or_default()
        );
        if let Some(func) = &f.function {
            eprintln!("tickscope:   ELR is in {func}");
        }
    }
    if let Some(p) = &out.panic {
        eprintln!("tickscope: firmware panic: {p}");
    }
    if let Some(p) = r.record.info.problems.first() {
        eprintln!("tickscope: {p} (run directory: {})", r.dir.path.display());
    }
}
/// The QEMU command a boot run on `machine` would use (the image and its drive by name).
fn dry_qemu_command(a: &Args, m: MachineSpec) -> String {
    let boot = match m.boot {
        crate::machine::BootMethod::Direct => crate::qemu::Boot::Kernel("tickscope-fw".into()),
        crate::machine::BootMethod::Uefi => crate::qemu::Boot::Uefi {
            firmware: crate::deps::UEFI_FIRMWARE.into(),
            esp: "esp".into(),
        },
    };
    let config = config(a, &m);
    let l = crate::qemu::Launch {
        machine: m,
        boot,
        initrd: None,
        append: None,
        semihosting: Some(vec![bare::semihosting_arg(&config)]),
        serial: crate::qemu::Serial::File("uart.log".into()),
        extra: vec![],
        cwd: ".".into(),
        timeout: std::time::Duration::from_secs(60),
    };
    l.shell_line(std::path::Path::new("qemu-system-aarch64"))
}

/// What `boot --dry-run` reports: the board as the firmware would drive it, and how it would
/// be launched.
#[derive(Serialize)]
struct Dry {
    board: String,
    load_address: String,
    entry_el: u8,
    el: u8,
    uart: String,
    uart_clock_hz: u64,
    gic: Vec<serde_json::Value>,
    psci_conduit: String,
    cores: usize,
    mpidrs: Vec<String>,
    timer_ppis: serde_json::Value,
    counter_hz: u64,
    image: String,
    qemu_command: Option<String>,
}

fn dry_run(a: &Args) -> Result<u8> {
    let b = workspace::board(&a.machine.board)?;
    let d = dry(a, &b)?;
    if a.json {
        print_json(&d)?;
    } else {
        print_dry(&d, &b);
    }
    Ok(status::OK)
}

fn dry(a: &Args, b: &BoardDesc) -> Result<Dry> {
    let entry = a.machine.entry_el.unwrap_or(a.machine.el);
    let conduit = if entry >= 2 {
        b.psci.conduit_from_el2
    } else {
        b.psci.conduit_from_el1
    };
    let elf = crate::firmware::elf_path(&b.name)?;
    let image = match crate::firmware::sizes(&elf) {
        Ok(_) => elf.display().to_string(),
        Err(_) => "not built yet (tickscope image --board NAME builds it)".into(),
    };
    let hex = |v: Option<u64>| v.map(|v| format!("{v:#x}"));
    let gic = b
        .gic
        .iter()
        .map(|g| {
            serde_json::json!({
                "version": g.version,
                "gicd": format!("{:#x}", g.gicd),
                "gicc": hex(g.gicc),
                "gicr": hex(g.gicr),
                "gicr_size": hex(g.gicr_size),
                "its": hex(g.its),
            })
        })
        .collect();
    Ok(Dry {
        board: b.name.clone(),
        load_address: format!("{:#x}", b.memory.load_address),
        entry_el: entry,
        el: a.machine.el,
        uart: format!("pl011 at {:#x}", b.uart.base),
        uart_clock_hz: b.uart.clock_hz,
        gic,
        psci_conduit: format!("{conduit:?}").to_lowercase(),
        cores: b.mpidrs().len(),
        mpidrs: b.mpidrs().iter().map(|m| format!("{m:#x}")).collect(),
        timer_ppis: serde_json::to_value(b.timer_ppis)?,
        counter_hz: b.counter.nominal_hz,
        image,
        qemu_command: a.machine.spec(false).ok().map(|m| dry_qemu_command(a, m)),
    })
}

fn print_dry(d: &Dry, b: &BoardDesc) {
    println!("board:         {} ({})", d.board, b.description);
    println!("load address:  {}", d.load_address);
    println!(
        "UART:          {} ({} Hz reference clock)",
        d.uart, d.uart_clock_hz
    );
    for g in &b.gic {
        match g.version {
            2 => println!(
                "GICv2:         GICD {:#x}, GICC {:#x}",
                g.gicd,
                g.gicc.unwrap_or(0)
            ),
            _ => println!(
                "GICv3:         GICD {:#x}, GICR {:#x} ({:#x} bytes){}",
                g.gicd,
                g.gicr.unwrap_or(0),
                g.gicr_size.unwrap_or(0),
                g.its.map(|i| format!(", ITS {i:#x}")).unwrap_or_default()
            ),
        }
    }
    println!(
        "PSCI conduit:  {} (image entered at EL{})",
        d.psci_conduit, d.entry_el
    );
    println!(
        "cores:         {} (MPIDR {} .. {})",
        d.cores,
        d.mpidrs[0],
        d.mpidrs[d.cores - 1]
    );
    println!(
        "timer PPIs:    secure phys {}, phys {}, virt {}, hyp {}",
        b.timer_ppis.secure_phys, b.timer_ppis.phys, b.timer_ppis.virt, b.timer_ppis.hyp
    );
    println!("image:         {}", d.image);
    if let Some(q) = &d.qemu_command {
        println!("QEMU:          {q}");
    } else {
        println!(
            "QEMU:          not emulated; load the image with: {}",
            b.image.commands.join(" ; ")
        );
    }
}
