//! The generic timers: EL1 virtual (CNTV), EL1 physical (CNTP) and EL2 physical (CNTHP), and
//! the counters they compare against. Deadlines are absolute compare values (CVAL).

use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTHP_CTL_EL2, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTPCT_EL0, CNTV_CTL_EL0,
    CNTV_CVAL_EL0, CNTVCT_EL0, Readable, Writeable,
};

use super::sysreg;
use crate::board::BOARD;

sysreg!(
    read_cnthp_cval,
    write_cnthp_cval,
    "cnthp_cval_el2",
    "EL2 physical timer compare value"
);

/// One of the three timers the firmware uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// EL1 virtual timer; compares with CNTVCT.
    Virtual,
    /// EL1 physical timer; compares with CNTPCT.
    Physical,
    /// EL2 physical timer; compares with CNTPCT. Only at EL2.
    Hyp,
}

impl Timer {
    /// The GIC interrupt ID of this timer (16 + its PPI number from the board description).
    pub fn intid(self) -> u32 {
        16 + match self {
            Timer::Virtual => BOARD.timer_ppis.virt,
            Timer::Physical => BOARD.timer_ppis.phys,
            Timer::Hyp => BOARD.timer_ppis.hyp,
        }
    }

    /// Arms the timer at absolute counter value `cval` (in this timer's counter) and unmasks it.
    #[inline(always)]
    pub fn arm(self, cval: u64) {
        match self {
            Timer::Virtual => {
                CNTV_CVAL_EL0.set(cval);
                CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
            }
            Timer::Physical => {
                CNTP_CVAL_EL0.set(cval);
                CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
            }
            Timer::Hyp => {
                write_cnthp_cval(cval);
                CNTHP_CTL_EL2.write(CNTHP_CTL_EL2::ENABLE::SET + CNTHP_CTL_EL2::IMASK::CLEAR);
            }
        }
    }

    /// Moves the deadline of an armed timer (clears its level-triggered interrupt when in the future).
    #[inline(always)]
    pub fn rearm(self, cval: u64) {
        match self {
            Timer::Virtual => CNTV_CVAL_EL0.set(cval),
            Timer::Physical => CNTP_CVAL_EL0.set(cval),
            Timer::Hyp => write_cnthp_cval(cval),
        }
    }

    /// Disables the timer (its interrupt line drops).
    pub fn disable(self) {
        match self {
            Timer::Virtual => CNTV_CTL_EL0.set(0),
            Timer::Physical => CNTP_CTL_EL0.set(0),
            Timer::Hyp => CNTHP_CTL_EL2.set(0),
        }
    }

    /// Whether this timer compares against the physical counter.
    pub fn is_physical(self) -> bool {
        !matches!(self, Timer::Virtual)
    }
}

/// Disables every timer this EL can reach (so nothing fires that nobody claims).
pub fn disable_all(el: u8) {
    Timer::Virtual.disable();
    Timer::Physical.disable();
    if el >= 2 {
        Timer::Hyp.disable();
    }
}

/// Counter frequency from CNTFRQ_EL0.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The virtual counter (the clock every measurement uses).
#[inline(always)]
pub fn now() -> u64 {
    CNTVCT_EL0.get()
}

/// The physical counter.
#[inline(always)]
pub fn now_physical() -> u64 {
    CNTPCT_EL0.get()
}

/// CNTPCT - CNTVCT (the virtual offset), measured: physical deadlines are converted with it.
pub fn virtual_offset() -> u64 {
    now_physical().wrapping_sub(now())
}

/// Busy-waits until the virtual counter reaches `until`; returns the last value read.
#[inline(always)]
pub fn spin_until(until: u64) -> u64 {
    loop {
        let t = now();
        if t >= until {
            return t;
        }
    }
}
