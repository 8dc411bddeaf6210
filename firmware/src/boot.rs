//! Bringing the run up. The boot core reads the configuration, hands the boot to another core
//! when configured to (`boot-core=`), settles the exception level (dropping from EL2 when asked)
//! and starts the other cores with PSCI CPU_ON; every core then continues where `main` says.
//! The entry code has already turned the MMU on and found each core's index from its MPIDR.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use tickscope_core::config::{Config, FaultKind, Platform, Problem};
use tickscope_core::refusal::Refusal;
use tickscope_core::wire::msg::PsciFailure;
use tickscope_core::wire::out::Out;
use tickscope_cpu::{BOARD, MAX_CORES, cores, el, entry, psci, regs, timer, vectors};

use crate::io;
use crate::shutdown;

/// CPU_ON context that tells the started core to take over the boot (see `boot-core=`).
const HAND_OFF: u64 = 0x7153_b007;

/// Facts the boot core settles first.
pub struct Early {
    /// The configuration (defaults if it did not parse).
    pub config: Config,
    /// Why the run was refused, if it was (reported once output works).
    pub refusal: Option<Refusal>,
    /// EL the image was entered at.
    pub boot_el: u8,
    /// EL the cores run at.
    pub el: u8,
    /// Counter at the first Rust instruction of the boot core.
    pub reset_ticks: u64,
    /// The core that booted and does the I/O.
    pub boot_core: usize,
}

/// Written once by the boot core before any other core starts, read-only afterwards. Not
/// `spin::Once`: with one writer there is no race to settle, and its state machine, poisoning
/// and their panic texts took about 450 bytes of the image.
struct EarlyCell {
    /// Set (Release) after `facts` is written; read (Acquire) before it is.
    settled: AtomicBool,
    facts: UnsafeCell<MaybeUninit<Early>>,
}

// SAFETY: `facts` is written once, before `settled` is published, and only read after it.
unsafe impl Sync for EarlyCell {}

static EARLY: EarlyCell = EarlyCell {
    settled: AtomicBool::new(false),
    facts: UnsafeCell::new(MaybeUninit::uninit()),
};

/// Settles the early facts (the boot core, once: `primary` runs once per boot, on the core that
/// keeps the boot after any hand-off).
fn settle(facts: Early) {
    // SAFETY: nothing has settled yet (this is the one call), so no reader holds a reference,
    // and only this core writes (a hand-off powers the old boot core off before its successor
    // gets here, and the old one never settled).
    unsafe { (*EARLY.facts.get()).write(facts) };
    EARLY.settled.store(true, Ordering::Release);
}

/// The boot core's early facts.
pub fn early() -> &'static Early {
    if !EARLY.settled.load(Ordering::Acquire) {
        panic!("the boot core settled its early facts");
    }
    // SAFETY: settled (Acquire pairs with `settle`'s Release): written and never written again.
    unsafe { (*EARLY.facts.get()).assume_init_ref() }
}

/// The run's configuration.
pub fn config() -> &'static Config {
    &early().config
}

/// Reads the configuration: the semihosting command line under QEMU (binary, as the host wrote
/// it), else the one compiled in (parsed by the build), else the defaults.
/// It is validated with the boot core defaulting to the one running this (`core`); the
/// configuration itself stays as given (so runs compare like with like).
fn read_config(boot_el: u8, core: usize) -> (Config, Option<Refusal>) {
    let mut cmdline = [0u8; 1024];
    let cfg = match configured(&mut cmdline) {
        Ok(cfg) => cfg,
        Err(problem) => {
            let setting = Refusal::setting("");
            return (
                Config::default(),
                Some(Refusal::Config { setting, problem }),
            );
        }
    };
    let mut effective = cfg;
    effective.boot_core.get_or_insert(core as u16);
    let platform = Platform {
        cores_online: if cfg.smp == 0 {
            MAX_CORES as u16
        } else {
            cfg.smp
        },
        counter_hz: Some(timer::frequency()),
        boot_el: Some(boot_el),
    };
    let refusal = if cfg.smp as usize > MAX_CORES {
        Some(Refusal::TooManyCores {
            smp: cfg.smp,
            board: MAX_CORES as u16,
        })
    } else {
        effective
            .validate(&platform)
            .err()
            .map(|e| Refusal::Config {
                setting: Refusal::setting(e.token),
                problem: e.problem,
            })
    };
    (cfg, refusal)
}

/// The configuration as given: the semihosting command line's (read into `buf`) when it has one.
/// The host writes it in binary form (`cfg=HEX`, `tickscope_core::config_bytes`): the image has no
/// text parser.
fn configured(buf: &mut [u8]) -> Result<Config, Problem> {
    let fallback = crate::build_info::BUILT_CONFIG.unwrap_or_default();
    if !BOARD.semihosting {
        return Ok(fallback);
    }
    let text = io::semihost::command_line(buf);
    Ok(Config::from_command_line(text)?.unwrap_or(fallback))
}

/// The boot core, from the entry code: decides where and how the run goes on, then calls `next`
/// at the chosen EL with this core's index.
pub fn primary(core: usize, next: extern "C" fn(u64) -> !) -> ! {
    let reset_ticks = timer::now();
    let boot_el = regs::current_el();
    shutdown::set_boot_el(boot_el);
    let (config, mut refusal) = read_config(boot_el, core);
    if let Some(wanted) = config.boot_core
        && refusal.is_none()
        && usize::from(wanted) != core
    {
        let code = hand_off(wanted.into(), boot_el);
        refusal = Some(Refusal::HandOff { core: wanted, code });
    }
    // A refused run still boots (at the boot EL) so the refusal can be reported.
    let el = match config.el {
        1 | 2 if refusal.is_none() && config.el <= boot_el => config.el,
        _ => boot_el,
    };
    settle(Early {
        config,
        refusal,
        boot_el,
        el,
        reset_ticks,
        boot_core: core,
    });
    enter_el(boot_el, el, next, core as u64)
}

/// Starts `target` as the boot core and powers this core off. Returns only if CPU_ON failed
/// (with its PSCI code). The started core enters with its MMU off through the secondary entry,
/// which never touches the tables, BSS or anything this core wrote with caches on.
fn hand_off(target: usize, boot_el: u8) -> i32 {
    let conduit = BOARD.conduit(boot_el);
    let entry = entry::secondary_entry_point();
    if let Err(code) = psci::cpu_on(conduit, cores::mpidr_of(target), entry, HAND_OFF) {
        return code;
    }
    let code = psci::cpu_off(conduit);
    // CPU_OFF only returns on failure; this core has nothing left to do either way.
    let _ = code;
    loop {
        regs::wfi();
    }
}

/// A core started with CPU_ON, from the entry code: takes over the boot when handed it, else
/// continues at `next` at the run's EL.
pub fn secondary(
    core: usize,
    context: u64,
    next: extern "C" fn(u64) -> !,
    boot: extern "C" fn(u64) -> !,
) -> ! {
    if context == HAND_OFF {
        primary(core, boot)
    }
    enter_el(regs::current_el(), early().el, next, core as u64)
}

/// Configures the EL (dropping from EL2 when the run wants EL1), installs the vectors and calls
/// `next(arg)`. The MMU is already on at the current EL.
fn enter_el(current: u8, el: u8, next: extern "C" fn(u64) -> !, arg: u64) -> ! {
    if current == 2 && el == 1 {
        let trap_pmu = early().config.fault == FaultKind::PmuTrap;
        // SAFETY: at EL2; the vector table is identity-mapped code.
        unsafe { el::drop_to_el1(vectors::base(), next, arg, trap_pmu) }
    }
    if current == 2 {
        el::stay_at_el2();
    }
    vectors::install();
    next(arg)
}

/// Starts every core `0..cores` but this one with PSCI CPU_ON. Returns how many calls succeeded;
/// each failure is reported by name. A core that is still powering off (the previous boot core
/// after a hand-off) is retried for up to 100 ms.
pub fn start_secondaries(cores_wanted: usize) -> usize {
    let me = cores::index();
    cores::set_plan(cores_wanted, me);
    let conduit = BOARD.conduit(early().boot_el);
    let entry = entry::secondary_entry_point();
    let mut started = 0;
    for core in (0..cores_wanted).filter(|&c| c != me) {
        let mpidr = cores::mpidr_of(core);
        let give_up = timer::now() + timer::frequency() / 10;
        let result = loop {
            match psci::cpu_on(conduit, mpidr, entry, 0) {
                // ALREADY_ON, ON_PENDING: still on its way down; ask again.
                Err(-4 | -5) if timer::now() < give_up => core::hint::spin_loop(),
                r => break r,
            }
        };
        match result {
            Ok(()) => started += 1,
            Err(code) => report_psci_failure(core, mpidr, code),
        }
    }
    started
}

/// Reports a failed CPU_ON: its PSCI code on the console, named by the host from the frame.
fn report_psci_failure(core: usize, mpidr: u64, code: i32) {
    io::print(|l| {
        l.s("tickscope: PSCI CPU_ON core ")
            .u(core as u64)
            .s(" (MPIDR ")
            .x(mpidr)
            .s(") failed: PSCI code -")
            .u(code.unsigned_abs().into())
    });
    io::send(Out::PsciFailure(&PsciFailure {
        core: core as u16,
        mpidr,
        code,
    }));
}
