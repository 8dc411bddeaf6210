//! What the cores do once they are up, by role. The boot core reports, brings up the others and
//! runs the window (`window`); measured cores measure (`measured`, with `calibrate`); the rest
//! may load memory (`interfere`). Parked cores wait in WFI for commands the boot core hands out
//! with an SGI, so under `-icount` they execute nothing.

pub mod calibrate;
pub mod commands;
pub mod interfere;
pub mod measured;
pub mod ship;
pub mod slots;
pub mod window;

use core::sync::atomic::Ordering;

use aarch64_cpu::registers::{MIDR_EL1, Readable};
use tickscope_core::checked::nth;
use tickscope_core::config::{Config, FaultKind, Mode};
use tickscope_core::exit;
use tickscope_core::refusal::Refusal;
use tickscope_core::wire::msg::{CoreOnline, NeonCheck, RunHeader, Source};
use tickscope_core::wire::out::Out;
use tickscope_cpu::cores;
use tickscope_cpu::{BOARD, gic, neon, pmu, regs, timer};
use tickscope_cpu::{irq, sgi};

use commands::{COMMAND_SEQ, Command, command, current_command};

use crate::boot;
use crate::build_info::revision;
use crate::io;
use crate::shutdown;

fn header(cfg: &Config) -> RunHeader {
    let e = boot::early();
    let mut board = heapless::String::new();
    let _ = board.push_str(BOARD.name);
    // At most 40 bytes, cut on a character boundary (`get` returns None elsewhere).
    let rev = revision();
    let revision = heapless::String::try_from(rev.get(..40).unwrap_or(rev)).unwrap_or_default();
    RunHeader {
        format: tickscope_core::wire::FORMAT_VERSION as u16,
        source: Source::Firmware,
        board,
        midr: MIDR_EL1.get(),
        el: e.el,
        boot_el: e.boot_el,
        gic: gic::version(),
        counter_hz: timer::frequency(),
        reset_ticks: e.reset_ticks,
        config: *cfg,
        boot_core: e.boot_core as u16,
        timer: measured::timer_choice(cfg, e.el),
        pmu: calibrate::pmu_enabled(),
        reduced: ship::reduced(cfg),
        revision,
        kernel: heapless::String::new(),
        cmdline: heapless::String::new(),
    }
}

fn announce(core: usize) {
    let el = regs::current_el();
    io::send(Out::CoreOnline(&CoreOnline {
        core: core as u16,
        mpidr: cores::mpidr(),
        el,
        at: timer::now(),
    }));
    io::send(Out::Neon(&NeonCheck {
        core: core as u16,
        value: neon::check(),
    }));
    defmt::info!(
        "core {=usize} online: MPIDR {=u64:#x} at EL{=u8}",
        core,
        cores::mpidr(),
        el
    );
}

/// The boot core after boot: MMU on, at the run's EL.
pub extern "C" fn primary_main(core: u64) -> ! {
    let core = core as usize;
    let e = boot::early();
    let cfg = e.config;
    io::init(cfg.transport);
    greet(core, e);
    if let Some(refusal) = &e.refusal {
        shutdown::refuse(exit::CONFIG, refusal.clone());
    }
    calibrate::start_pmu();
    timer::disable_all(e.el);
    let cores = match gic::init_primary(cfg.gic, e.el, cfg.smp as usize) {
        Ok(cores) => cores,
        Err(error) => shutdown::refuse(
            exit::CONFIG,
            Refusal::Gic {
                core: core as u16,
                error,
            },
        ),
    };
    io::send(Out::Header(&header(&cfg)));
    check_mmio_probe();
    gic::set_private(sgi::WAKE, true);
    gic::set_private(sgi::DONE, true);
    gic::set_private(sgi::STOP, true);
    announce(core);
    cores::mark_online();
    boot::start_secondaries(cores);
    let online = wait_online(cores);
    defmt::info!("{=usize} of {=usize} cores online", online, cores);
    let mut status = if online == cores {
        exit::OK
    } else {
        exit::FAILURE
    };
    if online != cores {
        io::print(|l| {
            l.s("tickscope: only ")
                .u(online as u64)
                .s(" of ")
                .u(cores as u64)
                .s(" cores came online")
        });
    }
    // `pmu-trap` is a setting of the EL2 drop (the PMU was found trapped): the run goes on.
    if !matches!(cfg.fault, FaultKind::None | FaultKind::PmuTrap) {
        fault_on_purpose(cfg.fault, core, cores);
    }
    if cfg.mode != Mode::Boot && status == exit::OK {
        status = window::run(&cfg, cores);
    }
    shutdown::finish(status)
}

/// The first console line: revision, board, boot core, ELs and counter.
fn greet(core: usize, e: &boot::Early) {
    io::print(|l| {
        l.s("tickscope firmware ")
            .s(revision())
            .s(" on ")
            .s(BOARD.name)
            .s(": boot core ")
            .u(core as u64)
            .s(" (MPIDR ")
            .x(cores::mpidr())
            .s("), entered at EL")
            .u(e.boot_el.into())
            .s(", running at EL")
            .u(e.el.into())
            .s(", counter ")
            .u(timer::frequency())
            .s(" Hz")
    });
}

/// Faults on the last online core other than this one (when there is one), to prove reports
/// work from any core. It ends the run.
fn fault_on_purpose(kind: FaultKind, core: usize, cores: usize) -> ! {
    let target = (0..cores)
        .rev()
        .find(|&c| c != core && cores::is_online(c))
        .unwrap_or(core);
    if target == core {
        crate::fault::trigger(kind);
    }
    command(Command::Fault, 1 << target);
    loop {
        regs::wfi();
        irq::drain_masked(u32::MAX);
    }
}

fn wait_online(cores: usize) -> usize {
    let deadline = timer::now() + 2 * timer::frequency();
    while tickscope_cpu::cores::online() < cores && timer::now() < deadline {
        core::hint::spin_loop();
    }
    tickscope_cpu::cores::online()
}

/// Reads the board's proof-of-mapping register (e.g. a PCIe ID above 4 GiB).
fn check_mmio_probe() {
    if let Some(p) = BOARD.mmio_probe {
        // The address lies in a device region of the board description, mapped Device-nGnRE.
        // SAFETY: a 32-bit read of an ID register has no side effects.
        let v = unsafe { core::ptr::read_volatile(p.addr as *const u32) };
        if v & p.mask == p.expect {
            defmt::info!("MMIO probe at {=u64:#x}: {=u32:#x} as expected", p.addr, v);
        } else {
            shutdown::refuse(
                exit::FAILURE,
                Refusal::MmioProbe {
                    addr: p.addr,
                    read: v,
                    expected: p.expect,
                },
            );
        }
    }
}

/// A secondary core after boot: MMU on, at the run's EL.
pub extern "C" fn secondary_main(core: u64) -> ! {
    let core = core as usize;
    let el = regs::current_el();
    timer::disable_all(el);
    if calibrate::pmu_enabled() {
        pmu::start_cycle_counter();
    }
    if let Err(error) = gic::init_secondary(el) {
        shutdown::refuse(
            exit::FAILURE,
            Refusal::Gic {
                core: core as u16,
                error,
            },
        );
    }
    gic::set_private(sgi::WAKE, true);
    gic::set_private(sgi::STOP, true);
    announce(core);
    cores::mark_online();
    park(core)
}

/// Waits in WFI for commands for this core, forever.
fn park(core: usize) -> ! {
    let mut seen = 0;
    loop {
        let seq = nth(&COMMAND_SEQ, core).0.load(Ordering::Acquire);
        if seq != seen {
            seen = seq;
            match current_command() {
                Command::Measure => measured::run(core),
                Command::Interfere => interfere::run(core),
                Command::Fault => crate::fault::trigger(boot::config().fault),
                Command::Idle | Command::Stop => {}
            }
        }
        regs::wfi();
        irq::drain_masked(u32::MAX);
    }
}
