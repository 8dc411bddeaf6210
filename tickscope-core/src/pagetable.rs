//! The firmware's translation tables, built at build time from the board file and the layout:
//! the image as normal executable memory, every core's stack (with an unmapped guard page below)
//! and the no-init buffers as normal execute-never memory, device regions as Device-nGnRE, nothing
//! else. 48-bit VA, 4 KiB granule, identity map, largest block that fits (1 GiB, 2 MiB, 4 KiB).
//!
//! `build.rs` encodes the result as [`Run`]s the entry code writes before the MMU is on; the host
//! tests compare the tables with golden dumps (`tests/data/pagetables-<board>.txt`).

use std::fmt::Write as _;

use crate::board::BoardDesc;
use crate::layout::{Layout, PAGE, Regime, Run, TABLES_PER_REGIME};

// The builder and the entry code's EL1 derivation (`Run::for_el1`) must agree on these bits.
const _: () = assert!(
    AP1 == crate::layout::desc_bit::AP1
        && PXN == crate::layout::desc_bit::PXN
        && XN == crate::layout::desc_bit::XN
        && OUTPUT_MASK == crate::layout::desc_bit::OUTPUT
);

// Descriptor bits (Arm ARM D8.3, VMSAv8-64 descriptors, 4 KiB granule).
const VALID: u64 = 1 << 0;
/// Bit 1: table (levels 0-2) or page (level 3); clear in a block descriptor.
const TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_INDEX_SHIFT: u64 = 2;
/// AP[1]: EL0 access in the EL1&0 regime (we leave it 0); RES1 in the EL2 regime.
const AP1: u64 = 1 << 6;
const SH_INNER: u64 = 0b11 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
/// PXN in the EL1&0 regime (RES0 in the EL2 regime).
const PXN: u64 = 1 << 53;
/// UXN in the EL1&0 regime, XN in the EL2 regime.
const XN: u64 = 1 << 54;
const OUTPUT_MASK: u64 = 0x0000_ffff_ffff_f000;
const ENTRIES: usize = 512;

use crate::layout::mair_index::{DEVICE as MAIR_DEVICE_INDEX, NORMAL as MAIR_NORMAL_INDEX};

/// What a mapping holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The image: normal memory, executable and writable (text, data and BSS share the region).
    Image,
    /// Stacks and buffers: normal memory, execute-never.
    Data,
    /// Device registers: Device-nGnRE, execute-never.
    Device,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Data => "data",
            Kind::Device => "device",
        }
    }

    /// Leaf attributes (without the block/page type bits) in `regime`.
    pub fn attributes(self, regime: Regime) -> u64 {
        let normal = VALID | (MAIR_NORMAL_INDEX << ATTR_INDEX_SHIFT) | SH_INNER | ACCESS_FLAG;
        let device = VALID | (MAIR_DEVICE_INDEX << ATTR_INDEX_SHIFT) | ACCESS_FLAG;
        let (never, ap) = match regime {
            Regime::El2 => (XN, AP1),
            Regime::El1 => (XN | PXN, 0),
        };
        match (self, regime) {
            (Kind::Image, Regime::El2) => normal | ap,
            // EL1: the image is privileged-executable, never EL0-executable.
            (Kind::Image, Regime::El1) => normal | XN,
            (Kind::Data, _) => normal | ap | never,
            (Kind::Device, _) => device | ap | never,
        }
    }
}

/// A range to map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// What it is, for dumps and errors.
    pub name: String,
    /// First byte.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    /// Attributes.
    pub kind: Kind,
}

/// Everything the firmware maps on `board` with `layout`: image, stacks (guard pages excluded),
/// no-init buffers, then the device regions.
pub fn mappings(board: &BoardDesc, layout: &Layout) -> Vec<Mapping> {
    let mut v = vec![Mapping {
        name: "image".into(),
        base: layout.image_base,
        size: layout.image_limit - layout.image_base,
        kind: Kind::Image,
    }];
    for core in 0..layout.cores {
        v.push(Mapping {
            name: format!("stack of core {core}"),
            base: layout.stack_bottom(core),
            size: layout.stack_size,
            kind: Kind::Data,
        });
        v.push(Mapping {
            name: format!("exception stack of core {core}"),
            base: layout.exception_stack_bottom(core),
            size: crate::layout::EXCEPTION_STACK,
            kind: Kind::Data,
        });
    }
    v.push(Mapping {
        name: "no-init buffers".into(),
        base: layout.noinit_base,
        size: layout.noinit_limit - layout.noinit_base,
        kind: Kind::Data,
    });
    for (name, base, size) in board.device_regions() {
        v.push(Mapping {
            name,
            base,
            size,
            kind: Kind::Device,
        });
    }
    v
}

/// A set of translation tables for one regime, at a fixed physical address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    regime: Regime,
    /// Physical address of table 0 (the level-0 table).
    base: u64,
    max: usize,
    tables: Vec<[u64; ENTRIES]>,
    levels: Vec<u8>,
}

const fn shift(level: u8) -> u32 {
    39 - 9 * level as u32
}

impl Tables {
    /// Builds the tables for `regime` at `base`, holding at most `max` tables.
    pub fn build(
        regime: Regime,
        base: u64,
        max: usize,
        maps: &[Mapping],
    ) -> Result<Tables, String> {
        let mut t = Tables {
            regime,
            base,
            max,
            tables: vec![[0; ENTRIES]],
            levels: vec![0],
        };
        for m in maps {
            if !m.base.is_multiple_of(PAGE) || !m.size.is_multiple_of(PAGE) || m.size == 0 {
                return Err(format!(
                    "{} ({:#x}, {:#x} bytes) is not a whole number of 4 KiB pages",
                    m.name, m.base, m.size
                ));
            }
            if m.base.checked_add(m.size).is_none_or(|end| end > 1 << 48) {
                return Err(format!(
                    "{} at {:#x} lies beyond the 48-bit address space",
                    m.name, m.base
                ));
            }
            let attrs = m.kind.attributes(regime);
            t.fill(0, 0, 0, m.base, m.base + m.size, attrs)
                .map_err(|e| format!("{}: {e}", m.name))?;
        }
        Ok(t)
    }

    /// Builds both regimes' tables for the firmware of `board`, where `layout` puts them.
    pub fn for_board(board: &BoardDesc, layout: &Layout, regime: Regime) -> Result<Tables, String> {
        Tables::build(
            regime,
            layout.root(regime),
            TABLES_PER_REGIME as usize,
            &mappings(board, layout),
        )
    }

    /// Maps `[lo, hi)` within the table `table` at `level`, whose first entry maps `table_va`.
    fn fill(
        &mut self,
        table: usize,
        level: u8,
        table_va: u64,
        lo: u64,
        hi: u64,
        attrs: u64,
    ) -> Result<(), String> {
        let span = 1u64 << shift(level);
        let first = ((lo.max(table_va) - table_va) / span) as usize;
        let last = ((hi - 1).min(table_va + span * ENTRIES as u64 - 1) - table_va) / span;
        for idx in first..=last as usize {
            let e_lo = table_va + idx as u64 * span;
            let e_hi = e_lo + span;
            let entry = self.tables[table][idx];
            let whole = lo <= e_lo && e_hi <= hi;
            let leaf_bits = if level == 3 { TABLE_OR_PAGE } else { 0 };
            if entry & VALID == 0 && whole && level >= 1 {
                self.tables[table][idx] = e_lo | attrs | leaf_bits;
                continue;
            }
            if entry & VALID != 0 && (level == 3 || entry & TABLE_OR_PAGE == 0) {
                // A leaf already maps this entry: fine if it is the same memory type.
                if entry & !OUTPUT_MASK & !TABLE_OR_PAGE == attrs {
                    continue;
                }
                return Err(format!(
                    "{e_lo:#x} is already mapped with other attributes (overlapping regions)"
                ));
            }
            let next = if entry & VALID == 0 {
                if self.tables.len() >= self.max {
                    return Err(format!(
                        "needs more than {} translation tables (TABLES_PER_REGIME)",
                        self.max
                    ));
                }
                self.tables.push([0; ENTRIES]);
                self.levels.push(level + 1);
                let n = self.tables.len() - 1;
                self.tables[table][idx] = self.address(n) | TABLE_OR_PAGE | VALID;
                n
            } else {
                ((entry & OUTPUT_MASK) - self.base) as usize / PAGE as usize
            };
            self.fill(next, level + 1, e_lo, lo.max(e_lo), hi.min(e_hi), attrs)?;
        }
        Ok(())
    }

    fn address(&self, table: usize) -> u64 {
        self.base + table as u64 * PAGE
    }

    /// Tables used.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether only the (empty) level-0 table exists.
    pub fn is_empty(&self) -> bool {
        self.tables.len() == 1 && self.tables[0].iter().all(|&e| e == 0)
    }

    /// The leaf descriptor that translates `va`, if any, with its level.
    pub fn walk(&self, va: u64) -> Option<(u64, u8)> {
        let mut table = 0;
        for level in 0..=3u8 {
            let idx = ((va >> shift(level)) & 0x1ff) as usize;
            let e = self.tables[table][idx];
            if e & VALID == 0 {
                return None;
            }
            if level == 3 || e & TABLE_OR_PAGE == 0 {
                return Some((e, level));
            }
            table = ((e & OUTPUT_MASK) - self.base) as usize / PAGE as usize;
        }
        None
    }

    /// The physical address `va` maps to and its memory kind, or `None` if it faults.
    pub fn translate(&self, va: u64) -> Option<(u64, Kind)> {
        let (e, level) = self.walk(va)?;
        let size = 1u64 << shift(level);
        let pa = (e & OUTPUT_MASK & !(size - 1)) | (va & (size - 1));
        let attrs = e & !OUTPUT_MASK & !TABLE_OR_PAGE;
        let kind = [Kind::Image, Kind::Data, Kind::Device]
            .into_iter()
            .find(|k| k.attributes(self.regime) == attrs)?;
        Some((pa, kind))
    }

    /// The tables as runs of descriptors for the entry code (see [`Run`]): arithmetic
    /// progressions of descriptors, then equal progressions at a constant period merged.
    pub fn runs(&self) -> Vec<Run> {
        let mut line: Vec<Run> = Vec::new();
        for (t, table) in self.tables.iter().enumerate() {
            let step = 1u64 << shift(self.levels[t]);
            for (idx, &e) in table.iter().enumerate() {
                if e == 0 {
                    continue;
                }
                let dest = self.address(t) + idx as u64 * 8;
                let is_table = self.levels[t] < 3 && e & TABLE_OR_PAGE != 0;
                let step = if is_table { PAGE } else { step };
                if let Some(r) = line.last_mut()
                    && r.step() == step
                    && r.dest + r.count as u64 * 8 == dest
                    && r.value + r.count as u64 * step == e
                {
                    r.count += 1;
                    continue;
                }
                line.push(Run {
                    dest,
                    value: e,
                    count: 1,
                    reps: 1,
                    period: 1,
                    step_shift: step.trailing_zeros(),
                });
            }
        }
        // Repeating groups become one run each. Groups of different shapes may interleave (a
        // core's thread stack, then its exception stack, then the next core's thread stack):
        // each line is matched against every run so far, since the order runs are written in
        // does not matter (every descriptor has its own address).
        let mut runs: Vec<Run> = Vec::new();
        for r in line {
            if !runs.iter_mut().rev().any(|p| extend(p, &r)) {
                runs.push(r);
            }
        }
        runs
    }

    /// Each descriptor of `runs`: (address, value).
    pub fn expand(runs: &[Run]) -> impl Iterator<Item = (u64, u64)> + '_ {
        runs.iter().flat_map(|r| {
            (0..r.reps as u64).flat_map(move |g| {
                (0..r.count as u64).map(move |i| {
                    let n = g * r.period as u64 + i;
                    (r.dest + n * 8, r.value + n * r.step())
                })
            })
        })
    }

    /// A human-readable dump: every table, its valid entries, consecutive leaves merged.
    pub fn dump(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:?} regime, {} tables at {:#x}",
            self.regime,
            self.len(),
            self.base
        );
        for run in self.runs() {
            for g in 0..run.reps as u64 {
                let n = g * run.period as u64;
                let (dest, value) = (run.dest + n * 8, run.value + n * run.step());
                self.dump_group(&mut s, dest, value, run.count as u64, run.step());
            }
        }
        s
    }

    fn dump_group(&self, s: &mut String, dest: u64, value: u64, count: u64, step: u64) {
        let t = ((dest - self.base) / PAGE) as usize;
        let idx = (dest - self.address(t)) / 8;
        let level = self.levels[t];
        if level < 3 && value & TABLE_OR_PAGE != 0 {
            let next = ((value & OUTPUT_MASK) - self.base) / PAGE;
            let _ = writeln!(
                s,
                "  t{t} L{level} [{idx}..{}] -> tables t{next}..t{}",
                idx + count - 1,
                next + count - 1
            );
            return;
        }
        let attrs = value & !OUTPUT_MASK & !TABLE_OR_PAGE;
        let kind = [Kind::Image, Kind::Data, Kind::Device]
            .into_iter()
            .find(|k| k.attributes(self.regime) == attrs)
            .map(Kind::name)
            .unwrap_or("?");
        let first = value & OUTPUT_MASK;
        let _ = writeln!(
            s,
            "  t{t} L{level} [{idx}..{}] {kind:6} {:#014x}..{:#014x} ({count} x {}, attrs {attrs:#x})",
            idx + count - 1,
            first,
            first + count * step,
            match step {
                0x4000_0000 => "1 GiB",
                0x20_0000 => "2 MiB",
                _ => "4 KiB",
            },
        );
    }
}

/// Makes `p` one group longer when `r` is its next repetition (same shape, the next group's
/// place and values); returns whether it did.
fn extend(p: &mut Run, r: &Run) -> bool {
    if p.count != r.count || p.step_shift != r.step_shift || r.dest <= p.dest {
        return false;
    }
    let period = if p.reps == 1 {
        (r.dest - p.dest) / 8
    } else {
        p.period as u64
    };
    let reps = p.reps as u64;
    if r.dest == p.dest + reps * period * 8
        && r.value == p.value + reps * period * p.step()
        && let Ok(period) = u32::try_from(period)
    {
        p.period = period;
        p.reps += 1;
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn board(name: &str) -> BoardDesc {
        BoardDesc::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../boards")
                .join(format!("{name}.toml")),
        )
        .unwrap()
    }

    fn tables(name: &str, regime: Regime) -> (BoardDesc, Layout, Tables) {
        let b = board(name);
        let l = b.layout();
        let t = Tables::for_board(&b, &l, regime).unwrap();
        (b, l, t)
    }

    /// The tables of both boards equal the golden dumps in `tests/data` (set
    /// `TICKSCOPE_BLESS=1` to rewrite them after a deliberate layout change, and review the diff).
    #[test]
    fn tables_match_the_golden_dumps() {
        for name in ["qemu-virt", "thunderx-cn88xx"] {
            let mut text = String::new();
            for regime in [Regime::El2, Regime::El1] {
                text.push_str(&tables(name, regime).2.dump());
            }
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(format!("pagetables-{name}.txt"));
            if std::env::var_os("TICKSCOPE_BLESS").is_some() {
                std::fs::write(&path, &text).unwrap();
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                text,
                golden,
                "{name}: tables differ from {} (TICKSCOPE_BLESS=1 rewrites it)",
                path.display()
            );
        }
    }

    #[test]
    fn every_byte_the_firmware_uses_is_mapped_and_guards_fault() {
        for name in ["qemu-virt", "thunderx-cn88xx"] {
            for regime in [Regime::El2, Regime::El1] {
                let (b, l, t) = tables(name, regime);
                assert_eq!(t.translate(l.image_base), Some((l.image_base, Kind::Image)));
                assert_eq!(
                    t.translate(l.image_limit - 8),
                    Some((l.image_limit - 8, Kind::Image))
                );
                for core in 0..l.cores {
                    let (bottom, top) = (l.stack_bottom(core), l.stack_top(core));
                    assert_eq!(t.translate(bottom), Some((bottom, Kind::Data)), "{name}");
                    assert_eq!(t.translate(top - 8), Some((top - 8, Kind::Data)));
                    assert_eq!(
                        t.translate(bottom - 8),
                        None,
                        "{name}: guard of core {core}"
                    );
                    let (eb, et) = (l.exception_stack_bottom(core), l.exception_stack_top(core));
                    assert_eq!(t.translate(eb), Some((eb, Kind::Data)));
                    assert_eq!(t.translate(et - 8), Some((et - 8, Kind::Data)));
                    assert_eq!(t.translate(top), None, "{name}: exception guard of {core}");
                }
                assert_eq!(t.translate(l.tables_base), None, "tables are not mapped");
                assert_eq!(
                    t.translate(l.noinit_limit - 8),
                    Some((l.noinit_limit - 8, Kind::Data))
                );
                assert_eq!(t.translate(l.noinit_limit), None);
                assert_eq!(t.translate(b.uart.base), Some((b.uart.base, Kind::Device)));
                for g in &b.gic {
                    assert_eq!(t.translate(g.gicd), Some((g.gicd, Kind::Device)));
                }
                assert_eq!(
                    t.translate(0x7000_0000_0000),
                    None,
                    "the fault test's address"
                );
                assert!(t.len() <= TABLES_PER_REGIME as usize);
            }
        }
    }

    /// The entry code writes the EL2 runs and derives the EL1 copy from them: both must give
    /// exactly the tables the builder made for each regime.
    #[test]
    fn runs_rebuild_both_regimes_exactly() {
        for name in ["qemu-virt", "thunderx-cn88xx"] {
            let (_, l, el2) = tables(name, Regime::El2);
            let (_, _, el1) = tables(name, Regime::El1);
            let runs = el2.runs();
            for (regime, want, runs) in [
                (Regime::El2, &el2, runs.clone()),
                (
                    Regime::El1,
                    &el1,
                    runs.iter().map(|r| r.for_el1(&l)).collect(),
                ),
            ] {
                let mut mem = vec![[0u64; ENTRIES]; want.len()];
                for (at, value) in Tables::expand(&runs) {
                    let n = ((at - l.root(regime)) / 8) as usize;
                    mem[n / ENTRIES][n % ENTRIES] = value;
                }
                assert_eq!(&mem, &want.tables, "{name} {regime:?}");
            }
            assert!(runs.len() <= 16, "{name}: {} runs", runs.len());
        }
    }

    #[test]
    fn overlapping_regions_with_other_attributes_are_refused() {
        let maps = [
            Mapping {
                name: "ram".into(),
                base: 0x4000_0000,
                size: 0x20_0000,
                kind: Kind::Data,
            },
            Mapping {
                name: "dev".into(),
                base: 0x4010_0000,
                size: 0x1000,
                kind: Kind::Device,
            },
        ];
        let e = Tables::build(Regime::El2, 0x1000_0000, 16, &maps).unwrap_err();
        assert!(e.contains("dev") && e.contains("other attributes"), "{e}");
        let e = Tables::build(Regime::El2, 0x1000_0000, 2, &maps[..1]).unwrap_err();
        assert!(e.contains("more than 2"), "{e}");
    }
}
