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
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::board))]
pub enum Conduit {
    /// Hypervisor call.
    Hvc,
    /// Secure monitor call.
    Smc,
}

/// One GIC the board may have (QEMU `virt` offers v2 and v3 at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::board))]
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
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::board))]
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
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::board))]
pub struct Region {
    /// Base address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A read the firmware makes to prove a region is mapped (e.g. a PCIe ECAM vendor ID above 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::board))]
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
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::board))]
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
    /// Stack per core, bytes (a guard page lies below each).
    pub stack_size: u64,
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
    use crate::layout::Layout;
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
            self.defaults
                .transport
                .parse::<Transport>()
                .map_err(|_| format!("defaults.transport `{}`", self.defaults.transport))?;
            self.layout()
                .check(m.ram_base, m.ram_size)
                .map_err(|e| format!("memory: {e}"))?;
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

        /// The compiled-in form (`build.rs` bakes it into a constant; its slices are leaked, which
        /// is what a build script wants).
        pub fn to_board(&self) -> Board {
            let leak = |v: String| -> &'static str { Box::leak(v.into_boxed_str()) };
            let gics: Vec<Gic> = self
                .gic
                .iter()
                .map(|g| Gic {
                    version: g.version,
                    gicd: g.gicd,
                    gicc: g.gicc.unwrap_or(0),
                    gicr: g.gicr.unwrap_or(0),
                    gicr_size: g.gicr_size.unwrap_or(0),
                })
                .collect();
            let regions: Vec<Region> = self
                .device_regions()
                .into_iter()
                .map(|(_, base, size)| Region { base, size })
                .collect();
            Board {
                name: leak(self.name.clone()),
                ram_base: self.memory.ram_base,
                ram_size: self.memory.ram_size,
                load_address: self.memory.load_address,
                uart_base: self.uart.base,
                uart_clock_hz: self.uart.clock_hz,
                uart_baud: self.uart.baud,
                gics: Vec::leak(gics),
                timer_ppis: self.timer_ppis,
                pmu_ppi: self.pmu_ppi,
                psci_from_el1: self.psci.conduit_from_el1,
                psci_from_el2: self.psci.conduit_from_el2,
                mpidrs: Vec::leak(self.mpidrs()),
                mmio: Vec::leak(regions),
                counter_hz: self.counter.nominal_hz,
                default_transport: self.defaults.transport.parse().unwrap_or_default(),
                semihosting: self.defaults.semihosting,
                mmio_probe: self.mmio_probe.as_ref().map(|p| MmioProbe {
                    addr: p.addr,
                    mask: p.mask,
                    expect: p.expect,
                }),
                iar_sync: self
                    .errata
                    .iter()
                    .any(|e| e.id.contains("23154") && e.applies != "none"),
                stack_size: self.memory.stack_size,
            }
        }

        /// The firmware's memory layout on this board.
        pub fn layout(&self) -> Layout {
            Layout::new(
                self.memory.load_address,
                self.memory.stack_size,
                self.mpidrs().len() as u64,
            )
        }

        /// The symbols the linker script places the image with (`layout.x`): the layout's
        /// addresses, so the linker checks the image against the same bounds the tables map.
        pub fn linker_symbols(&self) -> Vec<(&'static str, u64)> {
            let l = self.layout();
            vec![
                ("__image_base", l.image_base),
                ("__image_limit", l.image_limit),
                ("__noinit_base", l.noinit_base),
                ("__noinit_limit", l.noinit_limit),
                ("__tables_base", l.tables_base),
                ("__tables_end", l.tables_end()),
                ("__stacks_base", l.stacks_base),
                ("__stacks_end", l.stacks_end()),
            ]
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
        assert_eq!(b.to_board().uart_base, 0x0900_0000);
        assert!(b.linker_symbols().contains(&("__image_base", 0x4008_0000)));
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
        assert!(b.to_board().iar_sync);
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
