//! Why the firmware refused to run, as data: it ships a [`Refusal`] in a `Refused` frame and the
//! host puts it in words, so the image carries no text for the cases it only has to name (#23).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Problem;
use crate::text::Line;
use crate::wire::msg::psci_error_name;

/// A run the firmware would not start, or could not bring up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The configuration did not pass the firmware's checks.
    Config {
        /// The setting at fault (`cores`, `threshold`, ...); empty when the command line as a
        /// whole was not the binary form.
        setting: Setting,
        /// What is wrong with it.
        problem: Problem,
    },
    /// `smp=` asks for more cores than the board has.
    TooManyCores {
        /// Cores asked for.
        smp: u16,
        /// Cores the board has.
        board: u16,
    },
    /// `boot-core=` named a core that PSCI CPU_ON would not start.
    HandOff {
        /// The core asked for.
        core: u16,
        /// PSCI's return code.
        code: i32,
    },
    /// A core could not set up its interrupt controller.
    Gic {
        /// The core.
        core: u16,
        /// What went wrong.
        error: GicError,
    },
    /// The board's proof-of-mapping register did not read as its description says.
    MmioProbe {
        /// Its address.
        addr: u64,
        /// What it read.
        read: u32,
        /// What the description expects (under its mask).
        expected: u32,
    },
    /// More measured cores than the firmware has slots for.
    TooManyMeasured {
        /// Slots.
        max: u16,
    },
    /// The noise threshold, in counter ticks, is beyond the loop-gap table.
    GapTableTooShort {
        /// The threshold.
        threshold_ns: u64,
        /// The same in counter ticks.
        ticks: u64,
        /// The longest gap the table holds, in ticks.
        max_ticks: u64,
    },
}

/// A setting's name, as `Config::validate` gives it (the names are short, ASCII).
pub type Setting = heapless::String<16>;

/// Why the GIC could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The walk found no frame with GICR_TYPER.Last inside the board's redistributor region.
    NoLastRedistributor(u32),
    /// The driver refused the redistributor layout.
    Layout,
    /// GICv2 names an SGI's targets in an 8-bit list: cores 8 and up cannot be reached.
    V2Cores(u16),
}

impl Refusal {
    /// The setting's name as a [`Setting`] (empty if longer than 16 bytes, which no setting is).
    pub fn setting(name: &str) -> Setting {
        Setting::try_from(name).unwrap_or_default()
    }

    /// Appends what went wrong, in words.
    pub fn describe(&self, l: &mut Line) {
        match self {
            Refusal::Config { setting, problem } => {
                l.s("invalid configuration");
                if !setting.is_empty() {
                    l.s(" `").s(setting).s("`");
                }
                problem.describe(l.s(": "));
            }
            Refusal::TooManyCores { smp, board } => {
                l.s("smp=")
                    .u((*smp).into())
                    .s(" but the board has ")
                    .u((*board).into())
                    .s(" cores");
            }
            Refusal::HandOff { core, code } => {
                l.s("boot-core=")
                    .u((*core).into())
                    .s(": PSCI CPU_ON failed: ")
                    .s(psci_error_name(*code));
            }
            Refusal::Gic { core, error } => {
                error.describe(l.s("core ").u((*core).into()).s(": interrupt controller: "));
            }
            Refusal::MmioProbe {
                addr,
                read,
                expected,
            } => {
                l.s("MMIO probe at ")
                    .x(*addr)
                    .s(" read ")
                    .x((*read).into())
                    .s(", expected ")
                    .x((*expected).into());
            }
            Refusal::TooManyMeasured { max } => {
                l.s("at most ")
                    .u((*max).into())
                    .s(" cores can be measured at once");
            }
            Refusal::GapTableTooShort {
                threshold_ns,
                ticks,
                max_ticks,
            } => {
                l.s("threshold ")
                    .u(*threshold_ns)
                    .s(" ns is ")
                    .u(*ticks)
                    .s(" counter ticks; the loop-gap table holds at most ")
                    .u(*max_ticks)
                    .s(" ticks");
            }
        }
    }
}

impl GicError {
    /// Appends what went wrong, in words.
    pub fn describe(&self, l: &mut Line) {
        match *self {
            GicError::NotOnBoard(v) => l.s("the board description has no GICv").u(v.into()),
            GicError::Mismatch { wanted, found } => l
                .s("GICv")
                .u(wanted.into())
                .s(" requested but this machine has GICv")
                .u(found.into()),
            GicError::NoRedistributor(m) => l.s("no GICv3 redistributor for MPIDR ").x(m),
            GicError::NoLastRedistributor(n) => l
                .s("no GICv3 redistributor frame with GICR_TYPER.Last among the ")
                .u(n.into())
                .s(" in the board's region"),
            GicError::Layout => l.s("unsupported GICv3 redistributor frame layout"),
            GicError::V2Cores(n) => l
                .s("smp=")
                .u(n.into())
                .s(", but GICv2 reaches 8 cores at most"),
        };
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = Line::new();
        self.describe(&mut l);
        f.write_str(l.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    fn words(r: Refusal) -> std::string::String {
        r.to_string()
    }

    #[test]
    fn each_refusal_reads_as_the_firmware_used_to_print_it() {
        let cores = Refusal::Config {
            setting: Refusal::setting("cores"),
            problem: Problem::CoreOutOfRange { core: 5, online: 4 },
        };
        assert_eq!(
            words(cores),
            "invalid configuration `cores`: core 5 does not exist: 4 core(s) online, valid cores are 0..3"
        );
        let form = Refusal::Config {
            setting: Refusal::setting(""),
            problem: Problem::NotBinary,
        };
        assert!(words(form).starts_with("invalid configuration: not this firmware's"));
        assert_eq!(
            words(Refusal::TooManyCores { smp: 9, board: 8 }),
            "smp=9 but the board has 8 cores"
        );
        assert_eq!(
            words(Refusal::HandOff { core: 3, code: -2 }),
            "boot-core=3: PSCI CPU_ON failed: INVALID_PARAMETERS"
        );
        assert_eq!(
            words(Refusal::Gic {
                core: 0,
                error: GicError::V2Cores(9)
            }),
            "core 0: interrupt controller: smp=9, but GICv2 reaches 8 cores at most"
        );
        assert_eq!(
            words(Refusal::MmioProbe {
                addr: 0x8780_0000_0000,
                read: 0,
                expected: 0xa01_177d
            }),
            "MMIO probe at 0x878000000000 read 0x0, expected 0xa01177d"
        );
        assert_eq!(
            words(Refusal::TooManyMeasured { max: 8 }),
            "at most 8 cores can be measured at once"
        );
        assert_eq!(
            words(Refusal::GapTableTooShort {
                threshold_ns: 2_000_000,
                ticks: 125_000,
                max_ticks: 16383
            }),
            "threshold 2000000 ns is 125000 counter ticks; the loop-gap table holds at most 16383 ticks"
        );
    }

    #[test]
    fn a_refusal_survives_the_wire() {
        let r = Refusal::Gic {
            core: 2,
            error: GicError::NoRedistributor(0x8000_0102),
        };
        let mut buf = [0u8; 64];
        let bytes = crate::wire::ser::to_slice(&Message::Refused(r.clone()), &mut buf).unwrap();
        let back: Message = postcard::from_bytes(bytes).unwrap();
        assert_eq!(back, Message::Refused(r));
    }

    #[test]
    fn setting_names_fit() {
        assert_eq!(Refusal::setting("threshold").as_str(), "threshold");
        assert_eq!(Refusal::setting("a-very-long-setting-name").as_str(), "");
    }
}
