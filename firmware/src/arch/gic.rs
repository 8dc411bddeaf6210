//! The interrupt controller, GICv2 or GICv3, through the `arm-gic` crate: the distributor once on
//! the boot core, the CPU interface (and GICv3 redistributor) on each core, and the hot path
//! (acknowledge / end of interrupt) without locks.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, Ordering};

use aarch64_cpu::registers::{ID_AA64PFR0_EL1, Readable};
use arm_gic::gicv2::{self, GicV2};
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};
use spin::Mutex;

use crate::board::BOARD;
use crate::percore::{ConstInit, PerCore};

/// Priority of every interrupt we enable (all equal: handlers never nest).
const PRIORITY: u8 = 0x80;
/// Interrupt ID the GIC returns when nothing is pending.
pub const SPURIOUS: u32 = 1023;

/// GIC version in use (0 before `init`).
static VERSION: AtomicU8 = AtomicU8::new(0);
/// The GICv3 driver (distributor + all redistributors), for configuration only.
static GICV3: Mutex<Option<GicV3<'static>>> = Mutex::new(None);
/// Each core's redistributor index (GICv3), found by matching GICR_TYPER affinity to MPIDR.
static REDIST: PerCore<usize> = PerCore::new();

/// A GICv2 driver instance owned by one core.
struct CoreGicV2(GicV2<'static>);
// SAFETY: the GICv2 registers are MMIO valid from every core; each instance is used only by the
// core that created it (banked CPU-interface and SGI/PPI registers), so moving it is harmless.
unsafe impl Send for CoreGicV2 {}
static GICV2: PerCore<Option<CoreGicV2>> = PerCore::new();

impl ConstInit for usize {
    const INIT: Self = 0;
}
impl<T> ConstInit for Option<T> {
    const INIT: Self = None;
}

/// Why the GIC could not be set up.
#[derive(Clone, Copy)]
pub enum GicError {
    /// The board has no GIC of the version asked for.
    NotOnBoard(u8),
    /// The configuration asked for one version, the machine has the other.
    Mismatch {
        /// Configured version.
        wanted: u8,
        /// What the core reports (ID_AA64PFR0_EL1.GIC).
        found: u8,
    },
    /// No redistributor matches this core's MPIDR.
    NoRedistributor(u64),
}

impl core::fmt::Display for GicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            GicError::NotOnBoard(v) => write!(f, "the board description has no GICv{v}"),
            GicError::Mismatch { wanted, found } => {
                write!(f, "GICv{wanted} requested but this machine has GICv{found}")
            }
            GicError::NoRedistributor(m) => write!(f, "no GICv3 redistributor for MPIDR {m:#x}"),
        }
    }
}

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
pub fn version() -> u8 {
    VERSION.load(Ordering::Relaxed)
}

/// At EL2, lets EL1 use the GICv3 system registers (ICC_SRE_EL2.Enable and SRE).
pub fn allow_el1_sysregs() {
    if detect() == 3 {
        GicCpuInterface::enable_system_register_el2(true);
    }
}

/// Initialises the distributor (boot core, once) and this core's CPU interface.
pub fn init_primary(wanted: u8, cores: usize, el: u8) -> Result<u8, GicError> {
    let found = detect();
    let version = if wanted == 0 { found } else { wanted };
    if version != found {
        return Err(GicError::Mismatch { wanted, found });
    }
    let desc = BOARD.gic(version).ok_or(GicError::NotOnBoard(version))?;
    VERSION.store(version, Ordering::Release);
    if version == 3 {
        if el >= 2 {
            GicCpuInterface::enable_system_register_el2(true);
        }
        // The board description gives the bases, mapped as device memory by the MMU.
        // SAFETY: this is the only driver instance for the distributor and redistributors.
        let mut gic = unsafe {
            GicV3::new(
                UniqueMmioPointer::new(NonNull::new(desc.gicd as *mut Gicd).unwrap()),
                NonNull::new(desc.gicr as *mut GicrSgi).unwrap(),
                cores,
            )
        }
        .map_err(|_| GicError::NoRedistributor(0))?;
        let idx = find_redistributor(&mut gic, cores)?;
        gic.setup(idx);
        *GICV3.lock() = Some(gic);
        // SAFETY: this core's own slot, before interrupts are enabled.
        unsafe { *REDIST.mine() = idx };
        GicCpuInterface::set_priority_mask(0xff);
    } else {
        let mut gic = new_v2(desc.gicd, desc.gicc);
        gic.setup();
        gic.set_priority_mask(0xff);
        // SAFETY: this core's own slot, before interrupts are enabled.
        unsafe { *GICV2.mine() = Some(CoreGicV2(gic)) };
    }
    Ok(version)
}

fn new_v2(gicd: u64, gicc: u64) -> GicV2<'static> {
    // Bases from the board description, mapped as device memory. Several cores hold an instance,
    // SAFETY: but each uses only its banked registers, and the distributor in `init` order.
    unsafe {
        GicV2::new(
            gicd as *mut gicv2::registers::Gicd,
            gicc as *mut gicv2::registers::Gicc,
        )
    }
}

fn find_redistributor(gic: &mut GicV3<'static>, cores: usize) -> Result<usize, GicError> {
    let mpidr = crate::smp::mpidr();
    (0..cores)
        .find(|&i| {
            gic.gicr_typer(i)
                .map(|t| t.core_mpidr() == mpidr)
                .unwrap_or(false)
        })
        .ok_or(GicError::NoRedistributor(mpidr))
}

/// Initialises this (secondary) core's CPU interface and redistributor.
pub fn init_secondary(el: u8) -> Result<(), GicError> {
    let version = version();
    let desc = BOARD.gic(version).ok_or(GicError::NotOnBoard(version))?;
    if version == 3 {
        if el >= 2 {
            GicCpuInterface::enable_system_register_el2(true);
        }
        let mut guard = GICV3.lock();
        let gic = guard.as_mut().expect("GIC initialised by the boot core");
        let cores = crate::smp::cores_expected();
        let idx = find_redistributor(gic, cores)?;
        gic.init_cpu(idx);
        drop(guard);
        // SAFETY: this core's own slot, before interrupts are enabled.
        unsafe { *REDIST.mine() = idx };
        GicCpuInterface::set_priority_mask(0xff);
        GicCpuInterface::enable_group1(true);
    } else {
        let mut gic = new_v2(desc.gicd, desc.gicc);
        // The CPU interface and the banked SGI/PPI registers are per core.
        gic.set_priority_mask(0xff);
        // SAFETY: this core's own slot, before interrupts are enabled.
        unsafe { *GICV2.mine() = Some(CoreGicV2(gic)) };
        enable_cpu_interface_v2();
    }
    Ok(())
}

/// GICv2: enable this core's CPU interface (GICC_CTLR.EnableGrp0/1), as `GicV2::setup` does for
/// the boot core.
fn enable_cpu_interface_v2() {
    let desc = BOARD.gic(2).unwrap();
    // Setting bits 0 and 1 enables signalling of group 0 and group 1 interrupts.
    // SAFETY: GICC_CTLR is offset 0 of this core's banked CPU interface, mapped as device memory.
    unsafe { core::ptr::write_volatile(desc.gicc as *mut u32, 0b11) };
}

/// Enables (or disables) a private interrupt (SGI/PPI) on this core, level-triggered for PPIs.
pub fn set_private(intid: u32, enable: bool) {
    let id = if intid < 16 {
        IntId::sgi(intid)
    } else {
        IntId::ppi(intid - 16)
    };
    if version() == 3 {
        // SAFETY: this core's slot, written during init and only read afterwards.
        let idx = unsafe { *REDIST.mine() };
        let mut guard = GICV3.lock();
        let gic = guard.as_mut().expect("GIC initialised");
        if intid >= 16 {
            let _ = gic.set_trigger(id, Some(idx), Trigger::Level);
        }
        let _ = gic.set_interrupt_priority(id, Some(idx), PRIORITY);
        let _ = gic.enable_interrupt(id, Some(idx), enable);
    } else {
        // SAFETY: this core's slot; interrupts are masked while we configure.
        let gic = unsafe { GICV2.mine() }.as_mut().expect("GIC initialised");
        if intid >= 16 {
            gic.0.set_trigger(id, Trigger::Level);
        }
        gic.0.set_interrupt_priority(id, PRIORITY);
        let _ = gic.0.enable_interrupt(id, enable);
    }
}

/// Sends SGI `sgi` to the core at logical index `core`.
pub fn send_sgi(sgi: u32, core: usize) {
    let id = IntId::sgi(sgi);
    if version() == 3 {
        let mpidr = BOARD.mpidrs[core];
        let target = SgiTarget::List {
            affinity3: (mpidr >> 32) as u8,
            affinity2: (mpidr >> 16) as u8,
            affinity1: (mpidr >> 8) as u8,
            target_list: 1 << (mpidr & 0xf),
        };
        let _ = GicCpuInterface::send_sgi(id, target, SgiTargetGroup::CurrentGroup1);
    } else {
        // GICv2 CPU interface numbers follow the core order on the boards we support (QEMU).
        // SAFETY: this core's slot; callers mask interrupts around SGI sends.
        let gic = unsafe { GICV2.mine() }.as_mut().expect("GIC initialised");
        gic.0.send_sgi(
            id,
            gicv2::SgiTarget::List {
                target_list_filter: gicv2::SgiTargetListFilter::CPUTargetList,
                target_list: 1 << core,
            },
        );
    }
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
        // SAFETY: this core's slot; the interrupt path is the only user while IRQs are taken.
        let gic = unsafe { GICV2.mine() }.as_mut().expect("GIC initialised");
        gic.0
            .get_and_acknowledge_interrupt(InterruptGroup::Group0)
            .map(u32::from)
            .unwrap_or(SPURIOUS)
    };
    Acked {
        id: raw & 0x3ff,
        raw,
    }
}

/// ICC_IAR1_EL1 read padded as Cavium erratum 23154 requires (the workaround Linux applies on
/// ThunderX): the board description turns it on (`iar_sync`).
#[inline(always)]
fn read_iar1_synchronised() -> u32 {
    let v: u64;
    // The NOPs and the barrier only delay execution.
    // SAFETY: reading ICC_IAR1_EL1 acknowledges the pending interrupt, as the caller wants.
    unsafe {
        core::arch::asm!(
            "nop", "nop", "nop", "nop", "nop", "nop", "nop", "nop",
            "mrs {v}, icc_iar1_el1",
            "nop", "nop", "nop", "nop",
            "dsb sy",
            v = out(reg) v,
            options(nostack),
        )
    };
    (v & 0xff_ffff) as u32
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
        // GICv2: GICC_EOIR must get the acknowledge value back unchanged, source-CPU bits of an
        // SGI included; arm-gic's IntId rejects those values, so we write the register here.
        const GICC_EOIR: u64 = 0x10;
        let gicc = BOARD.gic(2).map(|g| g.gicc).unwrap_or(0);
        // SAFETY: GICC_EOIR of this core's banked CPU interface, mapped as device memory.
        unsafe { core::ptr::write_volatile((gicc + GICC_EOIR) as *mut u32, acked.raw) };
    }
}
