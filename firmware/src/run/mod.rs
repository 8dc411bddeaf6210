//! What the cores do once they are up. Core 0 reports, brings up the others, and orchestrates:
//! it hands out commands (measure, interfere, fault) that parked cores pick up after an SGI.
//! Every other core parks in WFI between commands, so under `-icount` it executes nothing.

pub mod irq;
pub mod measure;
pub mod ship;

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use aarch64_cpu::registers::{MIDR_EL1, Readable};
use tickscope_core::config::{Config, FaultKind, Mode, cores_in};
use tickscope_core::exit;
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{
    CoreOnline, NeonCheck, PsciFailure, RunHeader, Source, Trailer, psci_error_name,
};

use crate::arch::{self, gic, neon, pmu, timer};
use crate::board::{BOARD, MAX_CORES, REVISION};
use crate::io::{self, println};
use crate::smp;

/// SGI core 0 sends to wake a parked core: a command is waiting.
pub const SGI_WAKE: u32 = 0;
/// SGI a measured core sends to core 0 when it has finished.
pub const SGI_DONE: u32 = 1;

/// Commands core 0 gives to parked cores.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    /// Nothing to do.
    Idle = 0,
    /// Run the measurement (measured cores).
    Measure = 1,
    /// Load memory and caches until told to stop.
    Interfere = 2,
    /// Trigger the configured fault.
    Fault = 3,
    /// Stop interfering.
    Stop = 4,
}

/// Each core's current command and a sequence number bumped for every new one (per core, so
/// commands for different cores never overwrite each other).
static COMMAND: [AtomicU32; MAX_CORES] =
    [const { AtomicU32::new(Command::Idle as u32) }; MAX_CORES];
static COMMAND_SEQ: [AtomicU32; MAX_CORES] = [const { AtomicU32::new(0) }; MAX_CORES];
static PMU: AtomicBool = AtomicBool::new(false);

/// Whether the PMU cycle counter is running (read at interrupt entry when it is).
#[inline(always)]
pub fn pmu_enabled() -> bool {
    PMU.load(Ordering::Relaxed)
}

/// The run's configuration (settled before the MMU came on).
pub fn config() -> &'static Config {
    &smp::early().config
}

/// Publishes a command to the cores in `targets` and wakes them.
pub fn command(cmd: Command, targets: u64) {
    for core in cores_in(targets) {
        let core = core as usize;
        COMMAND[core].store(cmd as u32, Ordering::Relaxed);
        COMMAND_SEQ[core].fetch_add(1, Ordering::Release);
        gic::send_sgi(SGI_WAKE, core);
    }
}

/// This core's current command, for cores that poll while working (interference).
pub fn current_command() -> Command {
    match COMMAND[smp::core_index()].load(Ordering::Acquire) {
        1 => Command::Measure,
        2 => Command::Interfere,
        3 => Command::Fault,
        4 => Command::Stop,
        _ => Command::Idle,
    }
}

/// Acknowledges and ends every pending interrupt while interrupts are masked (used by parked
/// cores after WFI). Our SGIs and `expected` are claimed; anything else is a fault.
pub fn drain_pending(expected: u32) -> bool {
    let mut saw_expected = false;
    loop {
        let acked = gic::ack();
        let id = acked.id;
        if id == gic::SPURIOUS {
            return saw_expected;
        }
        if id == SGI_WAKE || id == SGI_DONE {
            gic::eoi(acked);
        } else if id == expected {
            saw_expected = true;
            gic::eoi(acked);
        } else {
            crate::fault::unclaimed_irq(id);
        }
    }
}

fn header(cfg: &Config) -> RunHeader {
    let e = smp::early();
    let mut board = heapless::String::new();
    let _ = board.push_str(BOARD.name);
    let mut revision = heapless::String::new();
    for c in REVISION.chars().take(40) {
        let _ = revision.push(c);
    }
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
        timer: measure::timer_choice(cfg, e.el),
        pmu: pmu_enabled(),
        reduced: ship::reduced(cfg),
        revision,
        kernel: heapless::String::new(),
        cmdline: heapless::String::new(),
    }
}

fn announce(core: usize) {
    let el = arch::current_el();
    io::send(&Message::CoreOnline(CoreOnline {
        core: core as u16,
        mpidr: smp::mpidr(),
        el,
        at: timer::now(),
    }));
    io::send(&Message::Neon(NeonCheck {
        core: core as u16,
        value: neon::check(),
    }));
    defmt::info!(
        "core {=usize} online: MPIDR {=u64:#x} at EL{=u8}",
        core,
        smp::mpidr(),
        el
    );
}

/// Reports a failed CPU_ON by name.
pub fn report_psci_failure(core: usize, mpidr: u64, code: i32) {
    println!(
        "tickscope: PSCI CPU_ON core {core} (MPIDR {mpidr:#x}) failed: {}",
        psci_error_name(code)
    );
    io::send(&Message::PsciFailure(PsciFailure {
        core: core as u16,
        mpidr,
        code,
    }));
}

fn fail(status: u8, args: core::fmt::Arguments<'_>) -> ! {
    io::print_line(args);
    finish(status)
}

/// Core 0 after boot: MMU on, at the run's EL.
pub fn primary_main() -> ! {
    measure::init_core();
    smp::plant_canary();
    let e = smp::early();
    let cfg = e.config;
    io::init(cfg.transport);
    println!(
        "tickscope firmware {REVISION} on {}: entered at EL{}, running at EL{}, counter {} Hz",
        BOARD.name,
        e.boot_el,
        e.el,
        timer::frequency()
    );
    if let Some(err) = &e.config_error {
        fail(exit::CONFIG, format_args!("tickscope: {err}"));
    }
    PMU.store(pmu::start_cycle_counter(), Ordering::Relaxed);
    timer::disable_all(e.el);
    let cores = if cfg.smp == 0 {
        BOARD.mpidrs.len()
    } else {
        cfg.smp as usize
    };
    if let Err(err) = gic::init_primary(cfg.gic, cores, e.el) {
        fail(
            exit::CONFIG,
            format_args!("tickscope: interrupt controller: {err}"),
        );
    }
    io::send(&Message::Header(header(&cfg)));
    if smp::mpidr() != BOARD.mpidrs[0] {
        println!(
            "tickscope: warning: boot core MPIDR {:#x} is not the board's core 0 ({:#x})",
            smp::mpidr(),
            BOARD.mpidrs[0]
        );
    }
    check_counter();
    check_mmio_probe();
    gic::set_private(SGI_WAKE, true);
    gic::set_private(SGI_DONE, true);
    announce(0);
    smp::start_secondaries(cores);
    let online = wait_online(cores);
    defmt::info!("{=usize} of {=usize} cores online", online, cores);
    let mut status = if online == cores {
        exit::OK
    } else {
        smp::OFFLINE_STATUS
    };
    if online != cores {
        println!("tickscope: only {online} of {cores} cores came online");
    }
    if cfg.fault != FaultKind::None {
        // Fault on the last online core (a secondary, when there is one), to prove reports
        // work from any core. It ends the run.
        let target = (0..cores)
            .rev()
            .find(|&c| smp::ONLINE[c].load(Ordering::Acquire))
            .unwrap_or(0);
        if target == 0 {
            crate::fault::trigger(cfg.fault);
        }
        command(Command::Fault, 1 << target);
        loop {
            arch::wfi();
            drain_pending(u32::MAX);
        }
    }
    if cfg.mode != Mode::Boot && status == exit::OK {
        status = measure::run_primary(&cfg, cores);
    }
    finish(status)
}

fn wait_online(cores: usize) -> usize {
    let deadline = timer::now() + 2 * timer::frequency();
    while smp::cores_online() < cores && timer::now() < deadline {
        core::hint::spin_loop();
    }
    smp::cores_online()
}

/// Cross-checks CNTFRQ_EL0 with the board's nominal counter frequency, when it has one.
fn check_counter() {
    let hz = timer::frequency();
    if BOARD.counter_hz != 0 && hz.abs_diff(BOARD.counter_hz) * 100 > BOARD.counter_hz {
        println!(
            "tickscope: warning: CNTFRQ_EL0 says {hz} Hz, the board description {} Hz; using CNTFRQ_EL0",
            BOARD.counter_hz
        );
    }
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
            fail(
                exit::FAILURE,
                format_args!(
                    "tickscope: MMIO probe at {:#x} read {v:#x}, expected {:#x}",
                    p.addr, p.expect
                ),
            );
        }
    }
}

/// A secondary core after boot: MMU on, at the run's EL.
pub fn secondary_main(core: usize) -> ! {
    measure::init_core();
    smp::plant_canary();
    let el = arch::current_el();
    timer::disable_all(el);
    if pmu_enabled() {
        pmu::start_cycle_counter();
    }
    if let Err(err) = gic::init_secondary(el) {
        fail(
            exit::FAILURE,
            format_args!("tickscope: core {core}: interrupt controller: {err}"),
        );
    }
    gic::set_private(SGI_WAKE, true);
    announce(core);
    smp::mark_online();
    park(core)
}

/// Waits in WFI for commands for this core, forever.
fn park(core: usize) -> ! {
    let mut seen = 0;
    loop {
        let seq = COMMAND_SEQ[core].load(Ordering::Acquire);
        if seq != seen {
            seen = seq;
            match current_command() {
                Command::Measure => measure::run_measured(core),
                Command::Interfere => measure::interfere(core),
                Command::Fault => crate::fault::trigger(config().fault),
                Command::Idle | Command::Stop => {}
            }
        }
        arch::wfi();
        drain_pending(u32::MAX);
    }
}

/// Sends the trailer and ends the run: QEMU exits with `status` (semihosting); a board prints
/// the status and halts.
pub fn finish(mut status: u8) -> ! {
    arch::irq_save();
    let overflowed = smp::overflowed_stacks();
    if overflowed != 0 {
        println!(
            "tickscope: stack overflow on core(s) {overflowed:#x}: results are not trustworthy"
        );
        status = exit::FAILURE;
    }
    io::send(&Message::End(Trailer {
        status,
        cores_online: smp::cores_online() as u16,
        at: timer::now(),
    }));
    println!(
        "tickscope: run finished, status {status} ({})",
        exit::name(status)
    );
    halt(status)
}

/// `finish` from a fault handler (the output lock may be held by this core).
pub fn finish_from_fault(status: u8) -> ! {
    io::emergency(|emit| {
        emit(io::Emergency::Frame(&Message::End(Trailer {
            status,
            cores_online: smp::cores_online() as u16,
            at: timer::now(),
        })));
        emit(io::Emergency::Text(format_args!(
            "tickscope: run aborted, status {status} ({})",
            exit::name(status)
        )));
    });
    halt(status)
}

fn halt(status: u8) -> ! {
    if BOARD.semihosting {
        io::semihost::exit(status)
    }
    println!("tickscope: HALTED (status {status}); reset the board to run again");
    arch::psci::system_off(BOARD.conduit(smp::early().boot_el));
    loop {
        arch::wfi();
    }
}
