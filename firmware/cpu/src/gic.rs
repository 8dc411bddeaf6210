//! The interrupt controller, GICv2 or GICv3. One owner: a single `arm-gic` driver instance behind
//! a lock configures everything (distributor, redistributors, priorities, enables). The
//! interrupt path (acknowledge, end of interrupt) and SGIs skip the lock: GICv3 through the
//! per-core system registers, GICv2 through the per-core banked IAR/EOIR and the write-only
//! GICD_SGIR, which the driver never touches after setup, so nothing aliases its state.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::lock::Mutex;
use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{ID_AA64PFR0_EL1, Readable};
use arm_gic::gicv2::{self, GicV2};
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicRedistributorIterator, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};

use crate::{BOARD, MAX_CORES, cores};

/// Priority of every interrupt we enable (all equal: handlers never nest).
const PRIORITY: u8 = 0x80;
/// Interrupt ID the GIC returns when nothing is pending.
pub const SPURIOUS: u32 = 1023;
/// Smallest GICv3 redistributor frame (RD_base + SGI_base; GICv4 adds two more 64 KiB frames).
const GICR_FRAME: u64 = 0x2_0000;

// GICv2 register offsets used without the driver (Arm IHI 0048B, 4.3 and 4.4).
const GICD_SGIR: u64 = 0xf00;
const GICC_IAR: u64 = 0x0c;
const GICC_EOIR: u64 = 0x10;

enum Driver {
    V2(GicV2<'static>),
    V3(GicV3<'static>),
}

struct Owner(Option<Driver>);
// SAFETY: the driver holds pointers to MMIO that every core may access; the mutex around the one
// instance serialises all use, and banked registers are those of whichever core holds it.
unsafe impl Send for Owner {}

static GIC: Mutex<Owner> = Mutex::new(Owner(None));
/// GIC version in use (0 before `init_primary`).
static VERSION: AtomicU8 = AtomicU8::new(0);
/// Each core's redistributor frame index (GICv3).
static REDIST: [AtomicUsize; MAX_CORES] = [const { AtomicUsize::new(0) }; MAX_CORES];
/// GICv3 redistributor frames found by the walk.
static FRAMES: AtomicUsize = AtomicUsize::new(0);

/// Why the GIC could not be set up: defined with the other refusals the host words.
pub use tickscope_core::refusal::GicError;

/// The GIC version this machine has: GICv3 if the core has the system-register CPU interface
/// (QEMU sets ID_AA64PFR0_EL1.GIC only when a GICv3 is attached), else v2; boards with a single
/// GIC use it.
pub fn detect() -> u8 {
    if let [only] = BOARD.gics {
        return only.version;
    }
    // ID_AA64PFR0_EL1.GIC, bits 27:24 (aarch64-cpu does not name this field).
    const GIC_SHIFT: u64 = 24;
    if (ID_AA64PFR0_EL1.get() >> GIC_SHIFT) & 0xf != 0 {
        3
    } else {
        2
    }
}

/// Version in use.
#[inline(always)]
pub fn version() -> u8 {
    VERSION.load(Ordering::Relaxed)
}

/// Enables the GICv3 system-register interface at this EL (and, at EL2, for EL1), with the `isb`
/// that makes the new ICC_SRE value take effect before any other ICC_* access (arm-gic writes the
/// register without one; Linux's gic_enable_sre has it).
fn enable_sysregs(el: u8) {
    if el >= 2 {
        GicCpuInterface::enable_system_register_el2(true);
        barrier::isb(barrier::SY);
    }
    GicCpuInterface::enable_system_register_el1();
    barrier::isb(barrier::SY);
}

/// At EL2 before dropping to EL1: lets EL1 use the GICv3 system registers.
pub fn allow_el1_sysregs() {
    if detect() == 3 {
        GicCpuInterface::enable_system_register_el2(true);
        // No virtual CPU interface (as Linux's init_el2 leaves it): a loader's ICH_HCR_EL2.En
        // would otherwise route EL1's ICC accesses to a virtual interface nobody serves.
        aarch64_cpu::registers::Writeable::set(&aarch64_cpu::registers::ICH_HCR_EL2, 0);
        barrier::isb(barrier::SY);
    }
}

/// Counts the redistributor frames up to the one with GICR_TYPER.Last, never past the board's
/// region (a frame without Last there is an error, not a walk into unmapped memory).
fn walk_redistributors(base: u64, size: u64) -> Result<usize, GicError> {
    let limit = (size / GICR_FRAME) as usize;
    // SAFETY: `base` is the board's redistributor region, mapped as device memory, and no driver
    // instance exists yet (the boot core walks before creating it).
    let frames =
        unsafe { GicRedistributorIterator::new(NonNull::new(base as *mut GicrSgi).unwrap()) }
            .map_err(|_| GicError::Layout)?;
    let mut count = 0;
    for frame in frames.take(limit) {
        count += 1;
        if frame.typer().last_redistributor() {
            return Ok(count);
        }
    }
    Err(GicError::NoLastRedistributor(count as u32))
}

/// Cores a GICv2 SGI can target (GICD_SGIR.CPUTargetList has 8 bits).
const V2_MAX_CORES: usize = 8;

/// Initialises the distributor (boot core, once) and this core's CPU interface. Returns how
/// many cores the run brings up: `smp`, or when 0 every core of the board the GIC can reach
/// (GICv2: 8). A GICv2 asked for more is refused here, whoever built the configuration.
pub fn init_primary(wanted: u8, el: u8, smp: usize) -> Result<usize, GicError> {
    let found = detect();
    let version = if wanted == 0 { found } else { wanted };
    if version != found {
        return Err(GicError::Mismatch { wanted, found });
    }
    let reach = if version == 2 {
        V2_MAX_CORES
    } else {
        MAX_CORES
    };
    let cores = if smp == 0 { MAX_CORES.min(reach) } else { smp };
    if cores > reach {
        return Err(GicError::V2Cores(cores as u16));
    }
    let desc = BOARD.gic(version).ok_or(GicError::NotOnBoard(version))?;
    let mut owner = GIC.lock();
    if version == 3 {
        enable_sysregs(el);
        let frames = walk_redistributors(desc.gicr, desc.gicr_size)?;
        FRAMES.store(frames, Ordering::Relaxed);
        // SAFETY: the board's distributor and redistributor bases, mapped as device memory; this
        // is the only driver instance (the walk above has ended).
        let mut gic = unsafe {
            GicV3::new(
                UniqueMmioPointer::new(NonNull::new(desc.gicd as *mut Gicd).unwrap()),
                NonNull::new(desc.gicr as *mut GicrSgi).unwrap(),
                frames,
            )
        }
        .map_err(|_| GicError::Layout)?;
        let idx = find_redistributor(&mut gic)?;
        gic.setup(idx);
        REDIST[cores::index()].store(idx, Ordering::Relaxed);
        owner.0 = Some(Driver::V3(gic));
        GicCpuInterface::set_priority_mask(0xff);
    } else {
        // SAFETY: the board's distributor and CPU interface, mapped as device memory; this is
        // the only driver instance.
        let mut gic = unsafe {
            GicV2::new(
                desc.gicd as *mut gicv2::registers::Gicd,
                desc.gicc as *mut gicv2::registers::Gicc,
            )
        };
        gic.setup();
        gic.set_priority_mask(0xff);
        owner.0 = Some(Driver::V2(gic));
    }
    VERSION.store(version, Ordering::Release);
    Ok(cores)
}

fn find_redistributor(gic: &mut GicV3<'static>) -> Result<usize, GicError> {
    let mpidr = cores::mpidr();
    (0..FRAMES.load(Ordering::Relaxed))
        .find(|&i| {
            gic.gicr_typer(i)
                .map(|t| t.core_mpidr() == mpidr)
                .unwrap_or(false)
        })
        .ok_or(GicError::NoRedistributor(mpidr))
}

/// Initialises this (secondary) core's CPU interface and redistributor.
pub fn init_secondary(el: u8) -> Result<(), GicError> {
    let mut owner = GIC.lock();
    match owner
        .0
        .as_mut()
        .unwrap_or_else(|| panic!("GIC initialised by the boot core"))
    {
        Driver::V3(gic) => {
            enable_sysregs(el);
            let idx = find_redistributor(gic)?;
            gic.init_cpu(idx);
            REDIST[cores::index()].store(idx, Ordering::Relaxed);
            GicCpuInterface::set_priority_mask(0xff);
            GicCpuInterface::enable_group1(true);
        }
        Driver::V2(gic) => {
            // This core's banked registers (IGROUPR0 for its SGIs/PPIs, GICC_CTLR, GICC_PMR) as
            // the boot core set its own; the shared ones are rewritten with the same values.
            gic.setup();
        }
    }
    Ok(())
}

/// Enables (or disables) a private interrupt (SGI/PPI) on this core, level-triggered for PPIs.
pub fn set_private(intid: u32, enable: bool) {
    let id = if intid < 16 {
        IntId::sgi(intid)
    } else {
        IntId::ppi(intid - 16)
    };
    let mut owner = GIC.lock();
    match owner
        .0
        .as_mut()
        .unwrap_or_else(|| panic!("GIC initialised"))
    {
        Driver::V3(gic) => {
            let idx = Some(REDIST[cores::index()].load(Ordering::Relaxed));
            if intid >= 16 {
                let _ = gic.set_trigger(id, idx, Trigger::Level);
            }
            let _ = gic.set_interrupt_priority(id, idx, PRIORITY);
            let _ = gic.enable_interrupt(id, idx, enable);
        }
        Driver::V2(gic) => {
            // The SGI/PPI enable, priority and configuration registers are banked per core.
            if intid >= 16 {
                gic.set_trigger(id, Trigger::Level);
            }
            gic.set_interrupt_priority(id, PRIORITY);
            let _ = gic.enable_interrupt(id, enable);
        }
    }
}

/// Sends SGI `sgi` to the core at logical index `core`. Stores made before the call are visible
/// to the target's handler: `dsb ishst` before the SGI, `isb` after it, as Linux's
/// gic_ipi_send_mask (GICv3) and gic_ipi_send_mask's dmb for GICv2 do. Lock-free, so a fault
/// handler can stop other cores whatever they hold.
#[inline(always)]
pub fn send_sgi(sgi: u32, core: usize) {
    barrier::dsb(barrier::ISHST);
    if version() == 3 {
        let mpidr = cores::mpidr_of(core);
        let target = SgiTarget::List {
            affinity3: (mpidr >> 32) as u8,
            affinity2: (mpidr >> 16) as u8,
            affinity1: (mpidr >> 8) as u8,
            target_list: 1 << (mpidr & 0xf),
        };
        let _ = GicCpuInterface::send_sgi(IntId::sgi(sgi), target, SgiTargetGroup::CurrentGroup1);
    } else {
        // GICv2 CPU-interface numbers follow the logical core order on the boards we support
        // (QEMU numbers them by CPU index). GICD_SGIR: target list (23:16), NSATT for group 1
        // (bit 15), SGI number (3:0).
        let value = (1u32 << (16 + core)) | (1 << 15) | (sgi & 0xf);
        // SAFETY: GICD_SGIR of the board's distributor, mapped as device memory; a write-only
        // register whose every write is a complete command.
        unsafe { core::ptr::write_volatile((gicv2_gicd() + GICD_SGIR) as *mut u32, value) };
    }
    barrier::isb(barrier::SY);
}

fn gicv2_gicd() -> u64 {
    BOARD.gic(2).map(|g| g.gicd).unwrap_or(0)
}

fn gicv2_gicc() -> u64 {
    BOARD.gic(2).map(|g| g.gicc).unwrap_or(0)
}

/// An acknowledged interrupt: its ID, and the raw acknowledge value the end-of-interrupt write
/// must carry (GICv2 puts the source CPU of an SGI in bits 12:10).
#[derive(Clone, Copy)]
pub struct Acked {
    /// Interrupt ID (INTID), [`SPURIOUS`] when nothing was pending.
    pub id: u32,
    raw: u32,
}

/// Acknowledges the highest-priority pending interrupt.
#[inline(always)]
pub fn ack() -> Acked {
    let raw = if version() == 3 {
        if BOARD.iar_sync {
            read_iar1_synchronised()
        } else {
            GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1)
                .map(u32::from)
                .unwrap_or(SPURIOUS)
        }
    } else {
        // SAFETY: GICC_IAR of this core's banked CPU interface, mapped as device memory; reading
        // it acknowledges the pending interrupt, as the caller wants.
        unsafe { core::ptr::read_volatile((gicv2_gicc() + GICC_IAR) as *const u32) }
    };
    Acked {
        id: raw & 0x3ff,
        raw,
    }
}

/// ICC_IAR1_EL1 read padded as Cavium erratum 23154 requires, and checked as erratum 38545
/// requires (the workarounds Linux applies on ThunderX; the board description turns them on:
/// `iar_sync`): an ID whose read left ICC_AP1R0_EL1 unchanged was not acknowledged, so it is
/// taken as spurious (nothing to end).
#[inline(always)]
fn read_iar1_synchronised() -> u32 {
    let (v, ap_before, ap_after): (u64, u64, u64);
    // The NOPs and the barrier only delay execution; the active-priority reads have no effect.
    // SAFETY: reading ICC_IAR1_EL1 acknowledges the pending interrupt, as the caller wants;
    // ICC_AP1R0_EL1 is readable at EL1 and EL2 once the system-register interface is on (it is:
    // version 3 uses it).
    unsafe {
        core::arch::asm!(
            "mrs {before}, icc_ap1r0_el1",
            "nop", "nop", "nop", "nop", "nop", "nop", "nop", "nop",
            "mrs {v}, icc_iar1_el1",
            "nop", "nop", "nop", "nop",
            "dsb sy",
            "mrs {after}, icc_ap1r0_el1",
            before = out(reg) ap_before,
            v = out(reg) v,
            after = out(reg) ap_after,
            options(nostack),
        )
    };
    let id = (v & 0xff_ffff) as u32;
    if id < 1020 && ap_before == ap_after {
        SPURIOUS
    } else {
        id
    }
}

/// Ends (drops priority of and deactivates) an acknowledged interrupt.
#[inline(always)]
pub fn eoi(acked: Acked) {
    if version() == 3 {
        let Ok(id) = IntId::try_from(acked.id) else {
            return;
        };
        GicCpuInterface::end_interrupt(id, InterruptGroup::Group1);
    } else {
        // GICC_EOIR must get the acknowledge value back unchanged, source-CPU bits of an SGI
        // included; arm-gic's IntId rejects those values, so we write the register here.
        // SAFETY: GICC_EOIR of this core's banked CPU interface, mapped as device memory.
        unsafe { core::ptr::write_volatile((gicv2_gicc() + GICC_EOIR) as *mut u32, acked.raw) };
    }
}
