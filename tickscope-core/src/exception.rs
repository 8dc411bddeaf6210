//! Names for AArch64 exceptions: the vector slot an exception came through and the exception class
//! (ESR_ELx.EC). The firmware prints them in fault reports; the host prints them when decoding.

use serde::{Deserialize, Serialize};

/// Which of the 16 vector-table entries was taken (the discriminant is the entry's index).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, strum::FromRepr)]
#[repr(u8)]
pub enum VectorSlot {
    /// Synchronous, current EL with SP_EL0.
    SyncSp0,
    /// IRQ, current EL with SP_EL0.
    IrqSp0,
    /// FIQ, current EL with SP_EL0.
    FiqSp0,
    /// SError, current EL with SP_EL0.
    SErrorSp0,
    /// Synchronous, current EL with SP_ELx.
    SyncSpx,
    /// IRQ, current EL with SP_ELx.
    IrqSpx,
    /// FIQ, current EL with SP_ELx.
    FiqSpx,
    /// SError, current EL with SP_ELx.
    SErrorSpx,
    /// Synchronous from a lower EL in AArch64.
    SyncLower64,
    /// IRQ from a lower EL in AArch64.
    IrqLower64,
    /// FIQ from a lower EL in AArch64.
    FiqLower64,
    /// SError from a lower EL in AArch64.
    SErrorLower64,
    /// Synchronous from a lower EL in AArch32.
    SyncLower32,
    /// IRQ from a lower EL in AArch32.
    IrqLower32,
    /// FIQ from a lower EL in AArch32.
    FiqLower32,
    /// SError from a lower EL in AArch32.
    SErrorLower32,
}

impl VectorSlot {
    /// The slot for a vector-table index 0..16.
    pub fn from_index(i: usize) -> Option<Self> {
        u8::try_from(i).ok().and_then(Self::from_repr)
    }

    /// Short description, e.g. `synchronous (current EL, SP_ELx)`.
    pub fn name(self) -> &'static str {
        use VectorSlot::*;
        match self {
            SyncSp0 => "synchronous (current EL, SP_EL0)",
            IrqSp0 => "IRQ (current EL, SP_EL0)",
            FiqSp0 => "FIQ (current EL, SP_EL0)",
            SErrorSp0 => "SError (current EL, SP_EL0)",
            SyncSpx => "synchronous (current EL, SP_ELx)",
            IrqSpx => "IRQ (current EL, SP_ELx)",
            FiqSpx => "FIQ (current EL, SP_ELx)",
            SErrorSpx => "SError (current EL, SP_ELx)",
            SyncLower64 => "synchronous (lower EL, AArch64)",
            IrqLower64 => "IRQ (lower EL, AArch64)",
            FiqLower64 => "FIQ (lower EL, AArch64)",
            SErrorLower64 => "SError (lower EL, AArch64)",
            SyncLower32 => "synchronous (lower EL, AArch32)",
            IrqLower32 => "IRQ (lower EL, AArch32)",
            FiqLower32 => "FIQ (lower EL, AArch32)",
            SErrorLower32 => "SError (lower EL, AArch32)",
        }
    }
}

/// The exception class field of ESR_ELx (bits 31:26).
pub fn esr_class(esr: u64) -> u8 {
    ((esr >> 26) & 0x3f) as u8
}

/// The name of an exception class (ESR_ELx.EC), as the Arm ARM names it.
pub fn class_name(ec: u8) -> &'static str {
    match ec {
        0x00 => "Unknown reason (undefined instruction)",
        0x01 => "Trapped WFI/WFE",
        0x07 => "Access to SIMD/FP trapped (CPACR/CPTR)",
        0x0e => "Illegal execution state",
        0x11 => "SVC (AArch32)",
        0x15 => "SVC (AArch64)",
        0x16 => "HVC (AArch64)",
        0x17 => "SMC (AArch64)",
        0x18 => "Trapped MSR/MRS/system instruction",
        0x19 => "Access to SVE trapped",
        0x1f => "Implementation defined (EL3)",
        0x20 => "Instruction abort from a lower EL",
        0x21 => "Instruction abort (same EL)",
        0x22 => "PC alignment fault",
        0x24 => "Data abort from a lower EL",
        0x25 => "Data abort (same EL)",
        0x26 => "SP alignment fault",
        0x28 => "Trapped FP exception (AArch32)",
        0x2c => "Trapped FP exception (AArch64)",
        0x2f => "SError interrupt",
        0x30 => "Breakpoint from a lower EL",
        0x31 => "Breakpoint (same EL)",
        0x32 => "Software step from a lower EL",
        0x33 => "Software step (same EL)",
        0x34 => "Watchpoint from a lower EL",
        0x35 => "Watchpoint (same EL)",
        0x3c => "BRK instruction (AArch64)",
        _ => "Reserved/unrecognised exception class",
    }
}

/// For data and instruction aborts: the fault status code name (ESR_ELx.ISS.DFSC/IFSC).
pub fn abort_status_name(esr: u64) -> Option<&'static str> {
    let ec = esr_class(esr);
    if !matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
        return None;
    }
    let fsc = (esr & 0x3f) as u8;
    Some(match fsc {
        0x00..=0x03 => "address size fault",
        0x04..=0x07 => "translation fault",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        _ => "other fault status",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_common_classes() {
        // An undefined instruction at EL1: EC=0, IL=1.
        assert_eq!(
            class_name(esr_class(0x0200_0000)),
            "Unknown reason (undefined instruction)"
        );
        // A same-EL data abort, translation fault level 1: EC=0x25, DFSC=0x05.
        let esr = (0x25u64 << 26) | (1 << 25) | 0x05;
        assert_eq!(class_name(esr_class(esr)), "Data abort (same EL)");
        assert_eq!(abort_status_name(esr), Some("translation fault"));
        assert_eq!(VectorSlot::from_index(5), Some(VectorSlot::IrqSpx));
        assert_eq!(VectorSlot::from_index(16), None);
    }
}
