//! The generic timers: EL1 virtual (CNTV), EL1 physical (CNTP) and EL2 physical (CNTHP), and
//! the counters they compare against. Deadlines are absolute compare values (CVAL).

use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTHP_CTL_EL2, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTPCT_EL0, CNTV_CTL_EL0,
    CNTV_CVAL_EL0, CNTVCT_EL0, Readable, Writeable,
};

use tickscope_core::irq::TimerRegs;

use crate::BOARD;
use crate::regs::sysreg;

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
                // SAFETY: the hyp timer is only chosen at EL2 (config validation); any compare
                // value is valid.
                unsafe { write_cnthp_cval(cval) };
                CNTHP_CTL_EL2.write(CNTHP_CTL_EL2::ENABLE::SET + CNTHP_CTL_EL2::IMASK::CLEAR);
            }
        }
    }

    /// Moves the deadline of an armed timer (clears its level-triggered interrupt when in the future).
    ///
    /// The `isb` makes the new compare value take effect before the caller's end-of-interrupt:
    /// without it a real core may still see the old condition and the GIC re-signal the
    /// interrupt (Linux's arch_timer programs CVAL and CTL then relies on the ISB of the
    /// exception return; we EOI first, so we synchronise here).
    #[inline(always)]
    pub fn rearm(self, cval: u64) {
        match self {
            Timer::Virtual => CNTV_CVAL_EL0.set(cval),
            Timer::Physical => CNTP_CVAL_EL0.set(cval),
            // SAFETY: as in `arm`.
            Timer::Hyp => unsafe { write_cnthp_cval(cval) },
        }
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    }

    /// Whether the timer's condition is met (CTL.ISTATUS): its interrupt is genuine.
    #[inline(always)]
    pub fn condition_met(self) -> bool {
        match self {
            Timer::Virtual => CNTV_CTL_EL0.is_set(CNTV_CTL_EL0::ISTATUS),
            Timer::Physical => CNTP_CTL_EL0.is_set(CNTP_CTL_EL0::ISTATUS),
            Timer::Hyp => CNTHP_CTL_EL2.is_set(CNTHP_CTL_EL2::ISTATUS),
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

/// CNTPCT - CNTVCT (the virtual offset), exactly: physical deadlines are converted with it. Both
/// counters tick together, so a physical read bracketed by two equal virtual reads gives the
/// offset to the tick; a plain difference of two reads is one tick off whenever a tick falls
/// between them, which made the physical and hyp timers fire one tick early.
pub fn virtual_offset() -> u64 {
    let mut best = None;
    for _ in 0..64 {
        let before = now();
        let p = now_physical();
        let after = now();
        if before == after {
            return p.wrapping_sub(before);
        }
        best = Some(p.wrapping_sub(after));
    }
    // The counter ticks on every read (a counter much faster than the core): the later virtual
    // read errs towards a late timer, never an early one.
    best.unwrap_or(0)
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

/// The decision logic of `tickscope_core::irq` drives the real registers through this.
impl TimerRegs for Timer {
    #[inline(always)]
    fn condition_met(&self) -> bool {
        Timer::condition_met(*self)
    }
    #[inline(always)]
    fn rearm(&mut self, cval: u64) {
        Timer::rearm(*self, cval)
    }
    fn counter(&self) -> u64 {
        if self.is_physical() {
            now_physical()
        } else {
            now()
        }
    }
    #[inline(always)]
    fn disable(&mut self) {
        Timer::disable(*self)
    }
}
