//! Bringing the run up. The boot core reads the configuration, hands the boot to another core
//! when configured to (`boot-core=`), settles the exception level (dropping from EL2 when asked)
//! and starts the other cores with PSCI CPU_ON; every core then continues where `main` says.
//! The entry code has already turned the MMU on and found each core's index from its MPIDR.

use spin::Once;
use tickscope_core::config::{Config, FaultKind, Platform, Problem};
use tickscope_core::text::Line;
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{PsciFailure, psci_error_name};
use tickscope_cpu::{BOARD, MAX_CORES, cores, el, entry, psci, regs, timer, vectors};

use crate::io;
use crate::shutdown;

/// CPU_ON context that tells the started core to take over the boot (see `boot-core=`).
const HAND_OFF: u64 = 0x7153_b007;

/// Facts the boot core settles first.
pub struct Early {
    /// The configuration (defaults if it did not parse).
    pub config: Config,
    /// Why the configuration was rejected, if it was (reported once output works).
    pub config_error: Option<Line>,
    /// EL the image was entered at.
    pub boot_el: u8,
    /// EL the cores run at.
    pub el: u8,
    /// Counter at the first Rust instruction of the boot core.
    pub reset_ticks: u64,
    /// The core that booted and does the I/O.
    pub boot_core: usize,
}

/// Written once by the boot core before any other core starts, read-only afterwards.
static EARLY: Once<Early> = Once::new();

/// The boot core's early facts.
pub fn early() -> &'static Early {
    match EARLY.get() {
        Some(early) => early,
        None => panic!("the boot core settled its early facts"),
    }
}

/// The run's configuration.
pub fn config() -> &'static Config {
    &early().config
}

/// Reads the configuration: the semihosting command line under QEMU (binary, as the host wrote
/// it), else the one compiled in (parsed by the build), else the defaults.
/// It is validated with the boot core defaulting to the one running this (`core`); the
/// configuration itself stays as given (so runs compare like with like).
fn read_config(boot_el: u8, core: usize) -> (Config, Option<Line>) {
    let mut error = Line::new();
    let mut cmdline = [0u8; 1024];
    let cfg = match configured(&mut cmdline) {
        Ok(cfg) => cfg,
        Err(e) => {
            if !e.describe_checks(error.s("invalid configuration: ")) {
                error.s("unknown problem");
            }
            return (Config::default(), Some(error));
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
    if cfg.smp as usize > MAX_CORES {
        error
            .s("smp=")
            .u(cfg.smp.into())
            .s(" but the board has ")
            .u(MAX_CORES as u64)
            .s(" cores");
    } else if let Err(e) = effective.validate(&platform) {
        e.describe_checks(&mut error);
    }
    (cfg, (!error.is_empty()).then_some(error))
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
    let (config, mut config_error) = read_config(boot_el, core);
    if let Some(wanted) = config.boot_core.map(usize::from)
        && config_error.is_none()
        && wanted != core
    {
        let e = hand_off(wanted, boot_el);
        let mut error = Line::new();
        error
            .s("boot-core=")
            .u(wanted as u64)
            .s(": PSCI CPU_ON failed: ")
            .s(psci_error_name(e));
        config_error = Some(error);
    }
    // A rejected configuration still boots (at the boot EL) so the error can be reported.
    let el = match config.el {
        1 | 2 if config_error.is_none() && config.el <= boot_el => config.el,
        _ => boot_el,
    };
    EARLY.call_once(|| Early {
        config,
        config_error,
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

/// Reports a failed CPU_ON by name.
fn report_psci_failure(core: usize, mpidr: u64, code: i32) {
    io::print(|l| {
        l.s("tickscope: PSCI CPU_ON core ")
            .u(core as u64)
            .s(" (MPIDR ")
            .x(mpidr)
            .s(") failed: ")
            .s(psci_error_name(code))
    });
    io::send(&Message::PsciFailure(PsciFailure {
        core: core as u16,
        mpidr,
        code,
    }));
}
