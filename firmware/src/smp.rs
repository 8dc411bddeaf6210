//! Boot of every core: the boot core reads the configuration, builds the identity map, picks the
//! exception level, then starts the secondaries with PSCI CPU_ON from the board's MPIDR list.
//! Each secondary gets a boot record (stack, EL, MMU registers) it can read with its MMU off.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::{MPIDR_EL1, Readable};
use tickscope_core::board::MPIDR_AFFINITY_MASK;
use tickscope_core::config::{Config, Platform};
use tickscope_core::exit;

use crate::arch::mmu::{self, MmuRegs};
use crate::arch::{self, el, entry, vectors};
use crate::board::{BOARD, MAX_CORES, STACK_SIZE};

/// What a secondary needs before its MMU is on. Read uncached by the secondary, so the boot core
/// cleans it to the point of coherency after writing it.
#[repr(C, align(64))]
pub struct BootRecord {
    /// Top of this core's stack (offset 0: the entry assembly loads it).
    pub stack_top: AtomicU64,
    /// Logical core index.
    pub core: AtomicU64,
    /// EL to run at.
    pub target_el: AtomicU64,
    /// MMU registers (see `mmu::MmuRegs`).
    pub ttbr0: AtomicU64,
    /// TCR.
    pub tcr: AtomicU64,
    /// MAIR.
    pub mair: AtomicU64,
    /// SCTLR.
    pub sctlr: AtomicU64,
}

impl BootRecord {
    const fn new() -> Self {
        BootRecord {
            stack_top: AtomicU64::new(0),
            core: AtomicU64::new(0),
            target_el: AtomicU64::new(0),
            ttbr0: AtomicU64::new(0),
            tcr: AtomicU64::new(0),
            mair: AtomicU64::new(0),
            sctlr: AtomicU64::new(0),
        }
    }

    fn regs(&self) -> MmuRegs {
        MmuRegs {
            ttbr0: self.ttbr0.load(Ordering::Relaxed),
            tcr: self.tcr.load(Ordering::Relaxed),
            mair: self.mair.load(Ordering::Relaxed),
            sctlr: self.sctlr.load(Ordering::Relaxed),
        }
    }
}

static RECORDS: [BootRecord; MAX_CORES] = [const { BootRecord::new() }; MAX_CORES];

/// Facts the boot core settles before its MMU is on.
#[derive(Clone)]
pub struct Early {
    /// The configuration (defaults if it did not parse).
    pub config: Config,
    /// Why the configuration was rejected, if it was (reported once output works).
    pub config_error: Option<heapless::String<128>>,
    /// EL the image was entered at.
    pub boot_el: u8,
    /// EL the cores run at.
    pub el: u8,
    /// MMU registers for `el`.
    pub regs: MmuRegs,
    /// Counter at the first Rust instruction of the boot core.
    pub reset_ticks: u64,
}

struct EarlyCell(UnsafeCell<Option<Early>>);
// SAFETY: written once by the boot core before any other core runs (and before its own MMU is
// on, when no other access exists); read-only afterwards.
unsafe impl Sync for EarlyCell {}
static EARLY: EarlyCell = EarlyCell(UnsafeCell::new(None));

/// The boot core's early facts.
pub fn early() -> &'static Early {
    // SAFETY: written once in `primary_entry` before anything calls this; never written again.
    unsafe { (*EARLY.0.get()).as_ref().expect("primary_entry ran") }
}

/// Cores that reported online.
pub static ONLINE: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];
static CORES_EXPECTED: AtomicUsize = AtomicUsize::new(1);

/// Logical index of the running core (TPIDR_EL0, set at entry).
#[inline(always)]
pub fn core_index() -> usize {
    arch::read_tpidr_el0() as usize
}

/// MPIDR affinity of the running core.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & MPIDR_AFFINITY_MASK
}

/// Cores the run brings online.
pub fn cores_expected() -> usize {
    CORES_EXPECTED.load(Ordering::Relaxed)
}

/// Cores online now.
pub fn cores_online() -> usize {
    ONLINE.iter().filter(|c| c.load(Ordering::Acquire)).count()
}

/// Written at the lowest word of every core's stack at boot; a different value at the end of the
/// run means the stack overflowed (there are no guard pages with 1 GiB blocks).
const STACK_CANARY: u64 = 0x7153_c0de_57ac_4a11;

/// Marks the bottom of the running core's stack.
pub fn plant_canary() {
    let bottom = stack_top(core_index()) - STACK_SIZE as u64;
    // SAFETY: the lowest word of this core's own stack, far below its current frames.
    unsafe { core::ptr::write_volatile(bottom as *mut u64, STACK_CANARY) };
}

/// Cores (bitmask) whose stack canary was overwritten.
pub fn overflowed_stacks() -> u64 {
    let mut bad = 0;
    for (core, online) in ONLINE.iter().enumerate() {
        if online.load(Ordering::Acquire) {
            let bottom = stack_top(core) - STACK_SIZE as u64;
            // SAFETY: reading the lowest word of a stack in the identity-mapped RAM.
            if unsafe { core::ptr::read_volatile(bottom as *const u64) } != STACK_CANARY {
                bad |= 1 << core;
            }
        }
    }
    bad
}

fn stack_top(core: usize) -> u64 {
    // Only the address of the linker symbol is taken (no read).
    let base = core::ptr::addr_of!(entry::__stacks_start) as u64;
    base + ((core + 1) * STACK_SIZE) as u64
}

/// Reads the configuration: the semihosting command line under QEMU, else the build-time
/// default. Runs with the MMU off, so it touches no atomics.
fn read_config(boot_el: u8) -> (Config, Option<heapless::String<128>>) {
    use core::fmt::Write;
    let mut cmdline = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let text: &str = if BOARD.semihosting {
        match semihosting::sys::arm_compat::sys_get_cmdline_uninit(&mut cmdline) {
            Ok(bytes) => core::str::from_utf8(bytes).unwrap_or(""),
            Err(_) => "",
        }
    } else {
        crate::board::DEFAULT_CONFIG
    };
    let mut error = heapless::String::new();
    let text = if text.trim().is_empty() {
        crate::board::DEFAULT_CONFIG
    } else {
        text
    };
    match Config::parse(text) {
        Ok(cfg) => {
            let platform = Platform {
                cores_online: if cfg.smp == 0 {
                    BOARD.mpidrs.len() as u16
                } else {
                    cfg.smp
                },
                counter_hz: Some(arch::timer::frequency()),
                boot_el: Some(boot_el),
            };
            if cfg.smp as usize > MAX_CORES {
                let _ = write!(
                    error,
                    "smp={} but the board has {} cores",
                    cfg.smp, MAX_CORES
                );
            } else if let Err(e) = cfg.validate(&platform) {
                let _ = write!(error, "{e}");
            }
            (cfg, (!error.is_empty()).then_some(error))
        }
        Err(e) => {
            let _ = write!(error, "{e}");
            (Config::default(), Some(error))
        }
    }
}

/// Boot core entry from `_start`: stack set, BSS zero, MMU off, at EL1 or EL2.
pub extern "C" fn primary_entry() -> ! {
    let reset_ticks = arch::timer::now();
    arch::write_tpidr_el0(0);
    let boot_el = arch::current_el();
    let (config, config_error) = read_config(boot_el);
    // A rejected configuration still boots (at the boot EL) so the error can be reported.
    let el = match config.el {
        1 | 2 if config_error.is_none() && config.el <= boot_el => config.el,
        _ => boot_el,
    };
    // SAFETY: first and only call, on the boot core, before any MMU or other core runs.
    let regs = unsafe { mmu::build(el) };
    // SAFETY: single writer, nothing reads EARLY before this store (see EarlyCell).
    unsafe {
        *EARLY.0.get() = Some(Early {
            config,
            config_error,
            boot_el,
            el,
            regs,
            reset_ticks,
        })
    };
    enter_el(boot_el, el, &regs, primary_continue, 0)
}

/// Turns the MMU on at the chosen EL (dropping from EL2 when asked) and calls `next(arg)`.
fn enter_el(boot_el: u8, el: u8, regs: &MmuRegs, next: extern "C" fn(u64) -> !, arg: u64) -> ! {
    if boot_el == 2 && el == 1 {
        // SAFETY: at EL2, regs were built for EL1, the vector table is identity-mapped code.
        unsafe { el::drop_to_el1(regs, vectors::base(), next, arg) }
    }
    if boot_el == 2 {
        el::stay_at_el2();
    }
    vectors::install();
    // SAFETY: regs were built for this EL; code, data and stack lie in the identity-mapped RAM.
    unsafe { mmu::enable_here(regs) };
    next(arg)
}

extern "C" fn primary_continue(_: u64) -> ! {
    vectors::install();
    crate::run::primary_main()
}

/// Starts the secondaries `1..cores` with PSCI CPU_ON. Returns how many calls succeeded; each
/// failure is reported by name.
pub fn start_secondaries(cores: usize) -> usize {
    CORES_EXPECTED.store(cores, Ordering::Relaxed);
    ONLINE[0].store(true, Ordering::Release);
    let e = early();
    let conduit = BOARD.conduit(e.boot_el);
    let mut started = 0;
    for (core, rec) in RECORDS.iter().enumerate().take(cores).skip(1) {
        rec.stack_top.store(stack_top(core), Ordering::Relaxed);
        rec.core.store(core as u64, Ordering::Relaxed);
        rec.target_el.store(e.el as u64, Ordering::Relaxed);
        rec.ttbr0.store(e.regs.ttbr0, Ordering::Relaxed);
        rec.tcr.store(e.regs.tcr, Ordering::Relaxed);
        rec.mair.store(e.regs.mair, Ordering::Relaxed);
        rec.sctlr.store(e.regs.sctlr, Ordering::Relaxed);
        mmu::clean_to_poc(rec as *const _ as usize, core::mem::size_of::<BootRecord>());
        let entry = entry::_secondary_start as *const () as u64;
        match arch::psci::cpu_on(conduit, BOARD.mpidrs[core], entry, rec as *const _ as u64) {
            Ok(()) => started += 1,
            Err(code) => crate::run::report_psci_failure(core, BOARD.mpidrs[core], code),
        }
    }
    started
}

/// Secondary entry from `_secondary_start`, MMU off, at the EL PSCI started us at.
pub extern "C" fn secondary_entry(rec: &'static BootRecord) -> ! {
    let core = rec.core.load(Ordering::Relaxed);
    arch::write_tpidr_el0(core);
    let el = rec.target_el.load(Ordering::Relaxed) as u8;
    let regs = rec.regs();
    enter_el(arch::current_el(), el, &regs, secondary_continue, core)
}

extern "C" fn secondary_continue(core: u64) -> ! {
    vectors::install();
    crate::run::secondary_main(core as usize)
}

/// Marks the running core online.
pub fn mark_online() {
    ONLINE[core_index()].store(true, Ordering::Release);
}

/// Exit status if a secondary could not come up in time.
pub const OFFLINE_STATUS: u8 = exit::FAILURE;
