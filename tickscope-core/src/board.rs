//! Board descriptions: the facts about a machine (memory, UART, GIC, timers, PSCI, cores) that the
//! firmware is built for and the host launches or talks to. Source of truth: `boards/<name>.toml`.
//!
//! [`Board`] is the `no_std` form compiled into the firmware (its `build.rs` turns the TOML into a
//! `const`); [`BoardDesc`] (feature `std`) is the parsed TOML the host and `build.rs` read.

use serde::{Deserialize, Serialize};

use crate::config::Transport;

/// How PSCI calls reach the firmware that implements them.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Conduit {
    /// Hypervisor call.
    Hvc,
    /// Secure monitor call.
    Smc,
}

/// One GIC the board may have (QEMU `virt` offers v2 and v3 at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gic {
    /// Architecture version, 2 or 3.
    pub version: u8,
    /// Distributor base.
    pub gicd: u64,
    /// GICv2 CPU interface base (0 for v3).
    pub gicc: u64,
    /// GICv3 redistributor region base (0 for v2).
    pub gicr: u64,
    /// GICv3 redistributor region size (0 for v2).
    pub gicr_size: u64,
}

/// Generic-timer PPI numbers (INTID = 16 + PPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerPpis {
    /// Secure physical timer.
    pub secure_phys: u32,
    /// Non-secure EL1 physical timer (CNTP).
    pub phys: u32,
    /// EL1 virtual timer (CNTV).
    pub virt: u32,
    /// EL2 physical timer (CNTHP).
    pub hyp: u32,
}

/// A device (MMIO) region to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Base address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A read the firmware makes to prove a region is mapped (e.g. a PCIe ECAM vendor ID above 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioProbe {
    /// Address of a 32-bit register.
    pub addr: u64,
    /// Bits to compare.
    pub mask: u32,
    /// Expected value of those bits.
    pub expect: u32,
}

/// The compiled-in board description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// Name (`qemu-virt`, `thunderx-cn88xx`).
    pub name: &'static str,
    /// RAM base.
    pub ram_base: u64,
    /// RAM size the firmware may use.
    pub ram_size: u64,
    /// Where the image is loaded (link address).
    pub load_address: u64,
    /// PL011 base.
    pub uart_base: u64,
    /// PL011 reference clock.
    pub uart_clock_hz: u64,
    /// Baud rate to program when the firmware initialises the UART (0 = leave as the loader set it).
    pub uart_baud: u32,
    /// GICs the board may have.
    pub gics: &'static [Gic],
    /// Timer PPIs.
    pub timer_ppis: TimerPpis,
    /// PMU PPI (0 = none).
    pub pmu_ppi: u32,
    /// PSCI conduit when the image is entered at EL1.
    pub psci_from_el1: Conduit,
    /// PSCI conduit when the image is entered at EL2.
    pub psci_from_el2: Conduit,
    /// MPIDR affinity values of the cores, in logical order (core 0 first).
    pub mpidrs: &'static [u64],
    /// Device regions to map (everything else in RAM is normal memory).
    pub mmio: &'static [Region],
    /// Nominal counter frequency (0 = unknown; CNTFRQ_EL0 is always read and cross-checked).
    pub counter_hz: u64,
    /// Transport when nothing else is configured.
    pub default_transport: Transport,
    /// Whether ARM semihosting is available (QEMU, or a board behind a debugger).
    pub semihosting: bool,
    /// Optional proof-of-mapping read.
    pub mmio_probe: Option<MmioProbe>,
    /// The GIC CPU interface needs padding around ICC_IAR1_EL1 reads (Cavium erratum 23154).
    pub iar_sync: bool,
}

impl Board {
    /// Logical index of the core with this MPIDR affinity (bits 39:32 and 23:0).
    pub fn core_index(&self, mpidr: u64) -> Option<usize> {
        let aff = mpidr & MPIDR_AFFINITY_MASK;
        self.mpidrs.iter().position(|&m| m == aff)
    }

    /// The GIC of a given version, if the board has one.
    pub fn gic(&self, version: u8) -> Option<&Gic> {
        self.gics.iter().find(|g| g.version == version)
    }

    /// The PSCI conduit for an image entered at `boot_el`.
    pub fn conduit(&self, boot_el: u8) -> Conduit {
        if boot_el >= 2 {
            self.psci_from_el2
        } else {
            self.psci_from_el1
        }
    }
}

/// The affinity fields of MPIDR_EL1 (Aff3 at 39:32, Aff2..Aff0 at 23:0).
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

#[cfg(feature = "std")]
pub use desc::*;

#[cfg(feature = "std")]
mod desc {
    use super::*;
    use std::fmt::Write as _;
    use std::path::Path;

    /// `[memory]` of a board file.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct MemoryDesc {
        /// RAM base.
        pub ram_base: u64,
        /// RAM the firmware may use.
        pub ram_size: u64,
        /// Load (link) address of the image.
        pub load_address: u64,
        /// Stack per core, bytes.
        pub stack_size: u64,
    }

    /// `[uart]` of a board file.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct UartDesc {
        /// Only `pl011` is supported.
        pub kind: String,
        /// Base address of the UART the firmware uses.
        pub base: u64,
        /// Reference clock.
        pub clock_hz: u64,
        /// Baud rate to program (0 = keep the loader's setting).
        pub baud: u32,
        /// Other UARTs on the board, documented for users.
        #[serde(default)]
        pub others: Vec<u64>,
    }

    /// `[[gic]]` entries of a board file.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct GicDesc {
        /// 2 or 3.
        pub version: u8,
        /// Distributor base.
        pub gicd: u64,
        /// Distributor size.
        pub gicd_size: u64,
        /// GICv2 CPU interface.
        #[serde(default)]
        pub gicc: Option<u64>,
        /// GICv3 redistributors.
        #[serde(default)]
        pub gicr: Option<u64>,
        /// GICv3 redistributor region size.
        #[serde(default)]
        pub gicr_size: Option<u64>,
        /// GICv3 ITS, documented (not used).
        #[serde(default)]
        pub its: Option<u64>,
        /// How the version is chosen (QEMU: `gic-version=`).
        #[serde(default)]
        pub note: String,
    }

    /// `[psci]` of a board file.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct PsciDesc {
        /// PSCI version the firmware implements.
        pub version: String,
        /// Conduit when the image is entered at EL1.
        pub conduit_from_el1: Conduit,
        /// Conduit when the image is entered at EL2.
        pub conduit_from_el2: Conduit,
    }

    /// `[cpus]` of a board file.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct CpusDesc {
        /// Inclusive MPIDR ranges `[first, last]`, in logical core order; each range walks Aff0.
        pub mpidr_ranges: Vec<[u64; 2]>,
        /// CPU model name (informational).
        pub model: String,
    }

    /// `[counter]` of a board file.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct CounterDesc {
        /// Nominal frequency, cross-checked against CNTFRQ_EL0 (0 = unknown).
        pub nominal_hz: u64,
        /// Note on where the value comes from.
        #[serde(default)]
        pub note: String,
    }

    /// `[[mmio]]` entries: device regions mapped nGnRE.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct RegionDesc {
        /// What lives there.
        pub name: String,
        /// Base.
        pub base: u64,
        /// Size.
        pub size: u64,
    }

    /// `[mmio_probe]`: a register read proving a region is mapped.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct MmioProbeDesc {
        /// What is read.
        pub name: String,
        /// Address.
        pub addr: u64,
        /// Mask.
        pub mask: u32,
        /// Expected value.
        pub expect: u32,
    }

    /// `[defaults]`.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct DefaultsDesc {
        /// `semihosting` or `uart`.
        pub transport: String,
        /// Whether semihosting exists on this board.
        pub semihosting: bool,
    }

    /// `[[errata]]`: timing-relevant errata and whether tickscope must care.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct ErratumDesc {
        /// Identifier (e.g. `Cavium #27456`).
        pub id: String,
        /// What it is.
        pub title: String,
        /// At which levels it matters: `el1`, `el2`, `both`, `none`.
        pub applies: String,
        /// What tickscope does about it.
        pub action: String,
    }

    /// `[qemu]`: how to emulate the board (only for emulated boards).
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct QemuDesc {
        /// `-M` machine.
        pub machine: String,
        /// Default `-cpu`.
        pub cpu: String,
        /// `-m` in MiB.
        pub memory_mib: u32,
        /// Default core count.
        pub smp: u16,
    }

    /// `[image]`: how users load the firmware on this board.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct ImageDesc {
        /// The loader (`qemu -kernel`, `U-Boot go`, ...).
        pub loader: String,
        /// Commands to load and start the raw image.
        pub commands: Vec<String>,
    }

    /// A parsed `boards/<name>.toml`.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct BoardDesc {
        /// Board name; also the file stem.
        pub name: String,
        /// One line for humans.
        pub description: String,
        /// Memory.
        pub memory: MemoryDesc,
        /// UART.
        pub uart: UartDesc,
        /// GICs.
        pub gic: Vec<GicDesc>,
        /// Timer PPIs.
        pub timer_ppis: TimerPpis,
        /// PMU PPI.
        pub pmu_ppi: u32,
        /// PSCI.
        pub psci: PsciDesc,
        /// Cores.
        pub cpus: CpusDesc,
        /// Counter.
        pub counter: CounterDesc,
        /// Device regions.
        pub mmio: Vec<RegionDesc>,
        /// Optional proof-of-mapping read.
        #[serde(default)]
        pub mmio_probe: Option<MmioProbeDesc>,
        /// Defaults.
        pub defaults: DefaultsDesc,
        /// Errata.
        #[serde(default)]
        pub errata: Vec<ErratumDesc>,
        /// QEMU emulation, when the board is emulated.
        #[serde(default)]
        pub qemu: Option<QemuDesc>,
        /// Loading instructions.
        pub image: ImageDesc,
    }

    impl BoardDesc {
        /// Parses a board file's text.
        pub fn parse(text: &str) -> Result<Self, String> {
            let desc: BoardDesc = toml::from_str(text).map_err(|e| e.to_string())?;
            desc.check()?;
            Ok(desc)
        }

        /// Reads and parses `path`.
        pub fn load(path: &Path) -> Result<Self, String> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read board file {}: {e}", path.display()))?;
            Self::parse(&text).map_err(|e| format!("board file {}: {e}", path.display()))
        }

        /// Consistency checks: what the firmware relies on.
        pub fn check(&self) -> Result<(), String> {
            if self.uart.kind != "pl011" {
                return Err(format!(
                    "uart.kind `{}`: only pl011 is supported",
                    self.uart.kind
                ));
            }
            let m = &self.memory;
            if m.load_address < m.ram_base || m.load_address >= m.ram_base + m.ram_size {
                return Err("memory.load_address must lie inside RAM".into());
            }
            if !m.load_address.is_multiple_of(4096) {
                return Err("memory.load_address must be 4 KiB aligned".into());
            }
            if self.gic.is_empty() {
                return Err("at least one [[gic]] is needed".into());
            }
            for g in &self.gic {
                match g.version {
                    2 if g.gicc.is_some() => {}
                    3 if g.gicr.is_some() && g.gicr_size.is_some() => {}
                    _ => {
                        return Err(format!(
                            "[[gic]] version {}: v2 needs gicc, v3 needs gicr and gicr_size",
                            g.version
                        ));
                    }
                }
            }
            let mpidrs = self.mpidrs();
            if mpidrs.is_empty() || mpidrs.len() > crate::config::MAX_CORES {
                return Err(format!(
                    "cpus: 1..={} cores supported",
                    crate::config::MAX_CORES
                ));
            }
            Transport::from_name(&self.defaults.transport)
                .ok_or_else(|| format!("defaults.transport `{}`", self.defaults.transport))?;
            Ok(())
        }

        /// MPIDR affinity values of every core, in logical order.
        pub fn mpidrs(&self) -> Vec<u64> {
            let mut out = Vec::new();
            for [first, last] in &self.cpus.mpidr_ranges {
                let mut m = *first;
                while m <= *last {
                    out.push(m);
                    m += 1;
                }
            }
            out
        }

        /// Every region the firmware maps as device memory: `[[mmio]]` plus UART and GIC frames.
        pub fn device_regions(&self) -> Vec<(String, u64, u64)> {
            let mut v: Vec<_> = self
                .mmio
                .iter()
                .map(|r| (r.name.clone(), r.base, r.size))
                .collect();
            v.push(("uart".into(), self.uart.base, 0x1000));
            for g in &self.gic {
                v.push((
                    format!("gicv{} distributor", g.version),
                    g.gicd,
                    g.gicd_size,
                ));
                if let Some(c) = g.gicc {
                    v.push(("gicv2 cpu interface".into(), c, 0x2000));
                }
                if let (Some(r), Some(s)) = (g.gicr, g.gicr_size) {
                    v.push(("gicv3 redistributors".into(), r, s));
                }
            }
            v
        }

        /// Rust source of a `Board` constant (`pub const BOARD: Board = ...;`) for `build.rs`.
        pub fn to_rust(&self) -> String {
            let mut s = String::new();
            let gics: Vec<String> = self
                .gic
                .iter()
                .map(|g| {
                    format!(
                        "Gic {{ version: {}, gicd: {:#x}, gicc: {:#x}, gicr: {:#x}, gicr_size: {:#x} }}",
                        g.version,
                        g.gicd,
                        g.gicc.unwrap_or(0),
                        g.gicr.unwrap_or(0),
                        g.gicr_size.unwrap_or(0)
                    )
                })
                .collect();
            let mpidrs: Vec<String> = self.mpidrs().iter().map(|m| format!("{m:#x}")).collect();
            let regions: Vec<String> = self
                .device_regions()
                .iter()
                .map(|(_, b, sz)| format!("Region {{ base: {b:#x}, size: {sz:#x} }}"))
                .collect();
            let conduit = |c: Conduit| match c {
                Conduit::Hvc => "Conduit::Hvc",
                Conduit::Smc => "Conduit::Smc",
            };
            let transport = match Transport::from_name(&self.defaults.transport) {
                Some(Transport::Uart) => "Transport::Uart",
                _ => "Transport::Semihosting",
            };
            let probe = match &self.mmio_probe {
                Some(p) => format!(
                    "Some(MmioProbe {{ addr: {:#x}, mask: {:#x}, expect: {:#x} }})",
                    p.addr, p.mask, p.expect
                ),
                None => "None".into(),
            };
            let t = &self.timer_ppis;
            let _ = write!(
                s,
                "pub const BOARD: Board = Board {{\n    name: {name:?},\n    ram_base: {rb:#x},\n    \
                 ram_size: {rs:#x},\n    load_address: {la:#x},\n    uart_base: {ub:#x},\n    \
                 uart_clock_hz: {uc},\n    uart_baud: {baud},\n    gics: &[{gics}],\n    \
                 timer_ppis: TimerPpis {{ secure_phys: {sp}, phys: {p}, virt: {v}, hyp: {h} }},\n    \
                 pmu_ppi: {pmu},\n    psci_from_el1: {c1},\n    psci_from_el2: {c2},\n    \
                 mpidrs: &[{mpidrs}],\n    mmio: &[{regions}],\n    counter_hz: {hz},\n    \
                 default_transport: {transport},\n    semihosting: {semi},\n    mmio_probe: {probe},\n    \
                 iar_sync: {iar_sync},\n}};\n\
                 pub const STACK_SIZE: usize = {stack:#x};\n",
                name = self.name,
                rb = self.memory.ram_base,
                rs = self.memory.ram_size,
                la = self.memory.load_address,
                ub = self.uart.base,
                uc = self.uart.clock_hz,
                baud = self.uart.baud,
                gics = gics.join(", "),
                sp = t.secure_phys,
                p = t.phys,
                v = t.virt,
                h = t.hyp,
                pmu = self.pmu_ppi,
                c1 = conduit(self.psci.conduit_from_el1),
                c2 = conduit(self.psci.conduit_from_el2),
                mpidrs = mpidrs.join(", "),
                regions = regions.join(", "),
                hz = self.counter.nominal_hz,
                semi = self.defaults.semihosting,
                iar_sync = self
                    .errata
                    .iter()
                    .any(|e| e.id.contains("23154") && e.applies != "none"),
                stack = self.memory.stack_size,
            );
            s
        }

        /// The `MEMORY` block of the linker script.
        pub fn to_memory_x(&self) -> String {
            let m = &self.memory;
            let end = m.ram_base + m.ram_size;
            format!(
                "/* Generated from boards/{name}.toml by firmware/build.rs. */\nMEMORY\n{{\n    \
                 RAM (rwx) : ORIGIN = {la:#x}, LENGTH = {len:#x}\n}}\n",
                name = self.name,
                la = m.load_address,
                len = end - m.load_address,
            )
        }
    }
}

impl Transport {
    /// Parses `semihosting` / `uart`.
    pub fn from_name(name: &str) -> Option<Transport> {
        match name {
            "semihosting" => Some(Transport::Semihosting),
            "uart" => Some(Transport::Uart),
            _ => None,
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use std::path::Path;

    fn board(name: &str) -> BoardDesc {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../boards")
            .join(format!("{name}.toml"));
        BoardDesc::load(&path).unwrap()
    }

    #[test]
    fn qemu_virt_matches_qemu() {
        let b = board("qemu-virt");
        assert_eq!(b.uart.base, 0x0900_0000);
        assert_eq!(
            b.gic.iter().map(|g| g.version).collect::<Vec<_>>(),
            vec![2, 3]
        );
        let m = b.mpidrs();
        assert_eq!(m.len(), 64);
        assert_eq!(
            (m[15], m[16]),
            (0x00f, 0x100),
            "16 cores per cluster, as QEMU's GICv3 layout"
        );
        assert_eq!(b.psci.conduit_from_el1, Conduit::Hvc);
        assert_eq!(b.psci.conduit_from_el2, Conduit::Smc);
        let src = b.to_rust();
        assert!(src.contains("uart_base: 0x9000000"), "{src}");
        assert!(b.to_memory_x().contains("ORIGIN = 0x40080000"));
    }

    #[test]
    fn thunderx_matches_the_upstream_device_tree() {
        let b = board("thunderx-cn88xx");
        let m = b.mpidrs();
        assert_eq!(m.len(), 48);
        assert_eq!(m[47], 0x20f, "core 47 is MPIDR 0x20f");
        assert_eq!((m[15], m[16], m[32]), (0x00f, 0x100, 0x200));
        let g = &b.gic[0];
        assert_eq!(
            (g.version, g.gicd, g.gicd_size),
            (3, 0x8010_0000_0000, 0x1_0000)
        );
        assert_eq!(
            (g.gicr, g.gicr_size),
            (Some(0x8010_8000_0000), Some(0x60_0000))
        );
        assert_eq!(g.its, Some(0x8010_0002_0000));
        assert_eq!(
            (b.uart.base, b.uart.clock_hz),
            (0x87e0_2400_0000, 50_000_000)
        );
        assert_eq!(b.uart.others, vec![0x87e0_2500_0000]);
        assert_eq!(
            b.timer_ppis,
            TimerPpis {
                secure_phys: 13,
                phys: 14,
                virt: 11,
                hyp: 10
            }
        );
        assert_eq!(b.pmu_ppi, 7);
        assert_eq!(
            (b.psci.conduit_from_el1, b.psci.conduit_from_el2),
            (Conduit::Smc, Conduit::Smc)
        );
        assert_eq!(b.psci.version, "0.2");
        assert!(!b.defaults.semihosting);
        // 48-bit MMIO: every device region is above 4 GiB and mapped.
        for (name, base, _) in b.device_regions() {
            assert!(base >= 1 << 32, "{name} at {base:#x}");
        }
        assert!(b.to_rust().contains("iar_sync: true"));
    }

    #[test]
    fn rejects_inconsistent_boards() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards/qemu-virt.toml"),
        )
        .unwrap();
        let bad = text.replace("load_address = 0x4008_0000", "load_address = 0x1000");
        assert!(BoardDesc::parse(&bad).unwrap_err().contains("load_address"));
        let bad = text.replace("kind = \"pl011\"", "kind = \"16550\"");
        assert!(BoardDesc::parse(&bad).unwrap_err().contains("pl011"));
        let bad = text.replace("[uart]", "[uart]\nbogus = 1");
        assert!(BoardDesc::parse(&bad).unwrap_err().contains("bogus"));
    }
}
