//! The state the exception vectors save, as the entry code lays it out; what the firmware's fault
//! report receives.

/// The saved state, as the entry code lays it out.
#[repr(C)]
pub struct Frame {
    /// x0..x18, then x29, x30.
    pub x: [u64; 21],
    /// FPCR and FPSR.
    pub fp: [u64; 2],
    /// CNTVCT_EL0 read by the vector's third instruction: the exception's timestamp.
    pub counter: u64,
    /// PMCCNTR_EL0 read right after it (0 on boards without a PMU).
    pub cycles: u64,
}
