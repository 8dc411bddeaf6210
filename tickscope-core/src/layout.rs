//! The firmware's fixed memory layout, decided at build time from the board file: where the image,
//! the page tables, every core's guarded stack and the no-init buffers live. One definition for
//! the linker script, the page-table builder, the entry code and the host's size report.
//!
//! ```text
//! load_address  image: .text .rodata .data .bss         (at most IMAGE_SPAN, checked at link)
//!               page tables: EL2 regime, then EL1 regime (TABLES_PER_REGIME each; not mapped)
//!               per core: a guard page (not mapped), its thread stack (stack_size), a second
//!               guard page, its exception stack (EXCEPTION_STACK)
//! 2 MiB aligned no-init buffers: rings, interference     (at most NOINIT_SPAN, checked at link)
//! ```

/// The translation granule and the size of a guard page.
pub const PAGE: u64 = 4096;
/// Room for the loaded image and its BSS.
pub const IMAGE_SPAN: u64 = 4 << 20;
/// Translation tables reserved per regime (EL1&0 and EL2); the build fails if a board needs more.
pub const TABLES_PER_REGIME: u64 = 16;
/// Each core's exception stack (SP_ELx): exceptions and interrupts run on it, thread code on
/// SP_EL0, so an overflow of the thread stack faults into its guard page and is reported from a
/// stack that is intact. It holds the entry frame (720 bytes) and the handlers, the fault report
/// the deepest of them.
pub const EXCEPTION_STACK: u64 = 2 * PAGE;
/// Room for the no-init buffers (ring storage, interference buffer).
pub const NOINIT_SPAN: u64 = 32 << 20;
const TWO_MIB: u64 = 2 << 20;

/// A translation regime: the firmware runs at EL2 (its own regime) or at EL1 (the EL1&0 regime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// EL1&0: leaves carry PXN and UXN, AP[1] = 0 (EL0 has no access).
    El1,
    /// EL2 (non-VHE): one privilege level, leaves carry XN (bit 54); AP[1] is RES1.
    El2,
}

/// Addresses of everything the firmware places in RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// First byte of the image (the load address).
    pub image_base: u64,
    /// End of the image region (image and BSS must end below it).
    pub image_limit: u64,
    /// First translation table (the EL2 regime's level-0 table).
    pub tables_base: u64,
    /// Stack size per core.
    pub stack_size: u64,
    /// Cores with a stack (the board's MPIDR list).
    pub cores: u64,
    /// First core's guard page.
    pub stacks_base: u64,
    /// First byte of the no-init region (2 MiB aligned).
    pub noinit_base: u64,
    /// End of the no-init region.
    pub noinit_limit: u64,
}

impl Layout {
    /// The layout for an image loaded at `load_address` with `cores` stacks of `stack_size`.
    pub const fn new(load_address: u64, stack_size: u64, cores: u64) -> Layout {
        let image_limit = load_address + IMAGE_SPAN;
        let tables_base = image_limit;
        let stacks_base = tables_base + 2 * TABLES_PER_REGIME * PAGE;
        let stacks_end = stacks_base + cores * (2 * PAGE + stack_size + EXCEPTION_STACK);
        let noinit_base = stacks_end.div_ceil(TWO_MIB) * TWO_MIB;
        Layout {
            image_base: load_address,
            image_limit,
            tables_base,
            stack_size,
            cores,
            stacks_base,
            noinit_base,
            noinit_limit: noinit_base + NOINIT_SPAN,
        }
    }

    /// Distance between two cores' stacks: a guard page, the thread stack, a guard page and the
    /// exception stack.
    pub const fn stack_stride(&self) -> u64 {
        2 * PAGE + self.stack_size + EXCEPTION_STACK
    }

    /// Lowest address of `core`'s stack (its guard page lies just below).
    pub const fn stack_bottom(&self, core: u64) -> u64 {
        self.stacks_base + core * self.stack_stride() + PAGE
    }

    /// Initial stack pointer of `core`'s thread code (SP_EL0; stacks grow down).
    pub const fn stack_top(&self, core: u64) -> u64 {
        self.stack_bottom(core) + self.stack_size
    }

    /// Lowest address of `core`'s exception stack (the second guard page lies just below).
    pub const fn exception_stack_bottom(&self, core: u64) -> u64 {
        self.stack_top(core) + PAGE
    }

    /// `core`'s exception stack pointer (SP_EL1 or SP_EL2): the top of its slot.
    pub const fn exception_stack_top(&self, core: u64) -> u64 {
        self.exception_stack_bottom(core) + EXCEPTION_STACK
    }

    /// End of the last stack.
    pub const fn stacks_end(&self) -> u64 {
        self.stacks_base + self.cores * self.stack_stride()
    }

    /// The level-0 table of a regime (TTBR0 value).
    pub const fn root(&self, regime: Regime) -> u64 {
        match regime {
            Regime::El2 => self.tables_base,
            Regime::El1 => self.tables_base + TABLES_PER_REGIME * PAGE,
        }
    }

    /// End of the translation tables.
    pub const fn tables_end(&self) -> u64 {
        self.tables_base + 2 * TABLES_PER_REGIME * PAGE
    }

    /// Whether the layout fits the board's RAM and granule; the reason when it does not.
    pub const fn check(&self, ram_base: u64, ram_size: u64) -> Result<(), &'static str> {
        if !self.image_base.is_multiple_of(PAGE) {
            return Err("the load address must be 4 KiB aligned");
        }
        if self.stack_size == 0 || !self.stack_size.is_multiple_of(PAGE) {
            return Err("the stack size must be a non-zero multiple of 4 KiB (guard pages)");
        }
        if self.image_base < ram_base || self.noinit_limit > ram_base + ram_size {
            return Err(
                "image, page tables, stacks and no-init buffers do not fit in the board's RAM",
            );
        }
        Ok(())
    }

    /// Which part of the layout holds `addr` (for fault reports: a stack overflow hits a guard).
    pub const fn place(&self, addr: u64) -> Place {
        if addr >= self.image_base && addr < self.image_limit {
            Place::Image
        } else if addr >= self.tables_base && addr < self.tables_end() {
            Place::Tables
        } else if addr >= self.stacks_base && addr < self.stacks_end() {
            let core = (addr - self.stacks_base) / self.stack_stride();
            if addr < self.stack_bottom(core) {
                Place::Guard(core as u16)
            } else if addr < self.stack_top(core) {
                Place::Stack(core as u16)
            } else if addr < self.exception_stack_bottom(core) {
                Place::ExceptionGuard(core as u16)
            } else {
                Place::ExceptionStack(core as u16)
            }
        } else if addr >= self.noinit_base && addr < self.noinit_limit {
            Place::NoInit
        } else {
            Place::Elsewhere
        }
    }
}

/// A part of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The image and its BSS.
    Image,
    /// Translation tables (not mapped).
    Tables,
    /// The guard page below a core's stack (not mapped: an overflow faults here).
    Guard(u16),
    /// A core's (thread) stack.
    Stack(u16),
    /// The guard page below a core's exception stack.
    ExceptionGuard(u16),
    /// A core's exception stack.
    ExceptionStack(u16),
    /// The no-init buffers.
    NoInit,
    /// Not part of the layout (device memory, or unmapped).
    Elsewhere,
}

/// A run of translation-table descriptors the entry code writes before the MMU is on: `reps`
/// groups of `count` descriptors, the first at `dest` with value `value`, each next one 8 bytes and
/// `1 << step_shift` further; group `r` starts `r × period` descriptors after the first (a stack
/// and its guard page repeat this way). The build encodes the EL2 regime's tables as a few of
/// these; the entry code derives the EL1 regime's copy with [`Run::for_el1`], so the image
/// carries no 4 KiB tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::layout))]
#[repr(C)]
pub struct Run {
    /// Physical address of the first descriptor.
    pub dest: u64,
    /// The first descriptor.
    pub value: u64,
    /// Descriptors per group.
    pub count: u32,
    /// Groups.
    pub reps: u32,
    /// Descriptors from the start of one group to the start of the next.
    pub period: u32,
    /// log2 of the increment from one descriptor to the next (the page, block or table size).
    pub step_shift: u32,
}

/// Byte offsets of [`Run`]'s fields, shared with the entry code.
pub mod run_field {
    /// `dest`.
    pub const DEST: usize = core::mem::offset_of!(super::Run, dest);
    /// `value`.
    pub const VALUE: usize = core::mem::offset_of!(super::Run, value);
    /// `count`.
    pub const COUNT: usize = core::mem::offset_of!(super::Run, count);
    /// `reps`.
    pub const REPS: usize = core::mem::offset_of!(super::Run, reps);
    /// `period`.
    pub const PERIOD: usize = core::mem::offset_of!(super::Run, period);
    /// `step_shift`.
    pub const STEP_SHIFT: usize = core::mem::offset_of!(super::Run, step_shift);
    /// Size of one run.
    pub const SIZE: usize = core::mem::size_of::<super::Run>();
}

/// Descriptor bits the EL2-to-EL1 derivation touches (Arm ARM D8.3).
pub mod desc_bit {
    /// AP[1]: RES1 in the EL2 regime, "EL0 may access" in EL1&0 (we give EL0 nothing).
    pub const AP1: u64 = 1 << 6;
    /// PXN in EL1&0 (RES0 at EL2).
    pub const PXN: u64 = 1 << 53;
    /// XN at EL2, UXN in EL1&0.
    pub const XN: u64 = 1 << 54;
    /// Output address bits of a descriptor.
    pub const OUTPUT: u64 = 0x0000_ffff_ffff_f000;
}

/// MAIR attribute indices the tables use; the firmware programs MAIR to match.
pub mod mair_index {
    /// Device-nGnRE (MAIR attribute 0x04).
    pub const DEVICE: u64 = 0;
    /// Normal write-back, read/write-allocate (MAIR attribute 0xff).
    pub const NORMAL: u64 = 1;
}

impl Run {
    /// Increment from one descriptor to the next.
    pub const fn step(&self) -> u64 {
        1 << self.step_shift
    }

    /// The same run in the EL1&0 regime's tables (`layout.root(El1)`), as the entry code derives
    /// it: table descriptors point at the EL1 copy of their table; leaves drop AP[1], become
    /// EL0-execute-never, and privileged-execute-never where EL2 had execute-never.
    pub const fn for_el1(self, layout: &Layout) -> Run {
        let offset = layout.root(Regime::El1) - layout.root(Regime::El2);
        let out = self.value & desc_bit::OUTPUT;
        let value = if out >= layout.tables_base && out < layout.tables_end() {
            self.value + offset
        } else {
            let pxn = if self.value & desc_bit::XN != 0 {
                desc_bit::PXN
            } else {
                0
            };
            (self.value & !desc_bit::AP1) | desc_bit::XN | pxn
        };
        Run {
            dest: self.dest + offset,
            value,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_have_guard_pages_and_do_not_overlap() {
        let l = Layout::new(0x4008_0000, 0x8000, 64);
        assert_eq!(l.image_limit, 0x4048_0000);
        assert_eq!(l.stacks_base, 0x4048_0000 + 32 * PAGE);
        for core in 0..64 {
            assert_eq!(l.stack_top(core) - l.stack_bottom(core), 0x8000);
            assert_eq!(l.place(l.stack_bottom(core) - 8), Place::Guard(core as u16));
            assert_eq!(l.place(l.stack_top(core) - 8), Place::Stack(core as u16));
            let (eb, et) = (l.exception_stack_bottom(core), l.exception_stack_top(core));
            assert_eq!(et - eb, EXCEPTION_STACK);
            assert_eq!(l.place(eb - 8), Place::ExceptionGuard(core as u16));
            assert_eq!(
                l.place(l.stack_top(core)),
                Place::ExceptionGuard(core as u16)
            );
            assert_eq!(l.place(eb), Place::ExceptionStack(core as u16));
            assert_eq!(l.place(et - 8), Place::ExceptionStack(core as u16));
            assert_eq!(
                et,
                l.stacks_base + (core + 1) * l.stack_stride(),
                "the slot's top"
            );
            if core > 0 {
                assert_eq!(l.stack_bottom(core) - PAGE, l.exception_stack_top(core - 1));
            }
        }
        assert!(l.noinit_base >= l.stacks_end() && l.noinit_base.is_multiple_of(TWO_MIB));
        assert_eq!(l.check(0x4000_0000, 0x1000_0000), Ok(()));
        assert!(
            l.check(0x4000_0000, 0x100_0000).is_err(),
            "16 MiB of RAM is too small"
        );
        assert!(
            Layout::new(0x4008_0000, 0x8100, 4)
                .check(0x4000_0000, 0x1000_0000)
                .is_err()
        );
    }
}
