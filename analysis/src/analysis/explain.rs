//! The worst events explained, as `rtla timerlat --aa` explains its worst wake-ups: each of a
//! core's largest events as its pieces in time order (what ran, of which kind, for how long,
//! what share of the event), the pieces adding up to the event exactly.

use serde::{Deserialize, Serialize};
use tickscope_core::stats::WorstEvent;
use tickscope_core::units::ticks_to_ns;

use super::attribute::{Causes, Piece, Split};

/// One piece of an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PieceShare {
    /// What ran: a cause's name, or the hardware cause (`emulator`, `hardware`).
    pub cause: String,
    /// `irq`, `ipi`, `softirq`, `thread`, `nmi` or `hw`.
    pub kind: String,
    /// Its time, ns (the pieces of an event add up to its `value`).
    pub ns: u64,
    /// Its share of the event (0..1).
    pub share: f64,
}

/// A worst event with its pieces (none where the run has no attribution).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Worst {
    /// Size, start (ns since the window opened) and core.
    #[serde(flatten)]
    pub event: WorstEvent,
    /// The pieces in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<PieceShare>,
}

/// A core's events split into pieces, as the explanation needs them.
pub struct CoreEvents<'a> {
    /// The splits, one per kept event.
    pub splits: &'a [Split],
    /// Their causes.
    pub causes: &'a Causes,
    /// The window's start (ticks): `at` counts from it.
    pub window_start: u64,
}

/// Explains `worst` (a core's largest events) from that core's splits.
pub fn explain(worst: &[WorstEvent], core: &CoreEvents, hz: u64, hw_name: &str) -> Vec<Worst> {
    worst
        .iter()
        .map(|w| {
            let split = core.splits.iter().find(|s| {
                ticks_to_ns(s.start.saturating_sub(core.window_start), hz) == w.at
                    && ticks_to_ns(s.len, hz) == w.value
            });
            Worst {
                event: *w,
                pieces: split
                    .map_or_else(Vec::new, |s| pieces(&s.pieces, core.causes, hz, hw_name)),
            }
        })
        .collect()
}

/// Pieces in ns: each the difference of its cumulative boundaries, so they add up exactly.
fn pieces(list: &[Piece], causes: &Causes, hz: u64, hw_name: &str) -> Vec<PieceShare> {
    let total: u64 = list.iter().map(piece_ticks).sum();
    let total_ns = ticks_to_ns(total, hz).max(1);
    let mut at = 0u64;
    let mut out: Vec<PieceShare> = Vec::new();
    for p in list {
        let from = ticks_to_ns(at, hz);
        at += piece_ticks(p);
        let ns = ticks_to_ns(at, hz) - from;
        let (cause, kind) = match *p {
            Piece::Hw(_) => (hw_name.to_string(), "hw".to_string()),
            Piece::Os { cause, .. } => {
                let (n, k) = causes.get(cause);
                (n.to_string(), k.name().to_string())
            }
        };
        // Neighbours of one cause (a handler split by nothing) are one piece.
        match out.last_mut() {
            Some(last) if last.cause == cause && last.kind == kind => last.ns += ns,
            _ => out.push(PieceShare {
                cause,
                kind,
                ns,
                share: 0.0,
            }),
        }
    }
    for p in &mut out {
        p.share = super::round6(p.ns as f64 / total_ns as f64);
    }
    out
}

/// `arch_timer (irq) 912 ns 56.4 %, RCU (softirq) 640 ns 39.6 %, ...`: pieces in words.
pub fn describe(pieces: &[PieceShare]) -> String {
    pieces
        .iter()
        .map(|p| {
            format!(
                "{} ({}) {} ns {:.1} %",
                p.cause,
                p.kind,
                p.ns,
                p.share * 100.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn piece_ticks(p: &Piece) -> u64 {
    match *p {
        Piece::Hw(n) => n,
        Piece::Os { len, .. } => len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickscope_core::wire::msg::CauseKind;

    #[test]
    fn pieces_add_up_to_the_event_in_time_order() {
        let mut causes = Causes::default();
        let timer = causes.id("arch_timer", CauseKind::Irq);
        let rcu = causes.id("RCU", CauseKind::Softirq);
        // 62.5 MHz: 16 ns per tick; an event of 101 ticks (1616 ns) at 1000 ticks into the window.
        let split = Split {
            start: 11_000,
            len: 101,
            pieces: vec![
                Piece::Hw(3),
                Piece::Os {
                    cause: timer,
                    len: 50,
                },
                Piece::Os {
                    cause: timer,
                    len: 7,
                },
                Piece::Os {
                    cause: rcu,
                    len: 40,
                },
                Piece::Hw(1),
            ],
        };
        let splits = [split];
        let core = CoreEvents {
            splits: &splits,
            causes: &causes,
            window_start: 10_000,
        };
        let hz = 62_500_000;
        let worst = [
            WorstEvent {
                value: 1616,
                at: 16_000,
                core: 3,
            },
            WorstEvent {
                value: 999,
                at: 5,
                core: 3,
            },
        ];
        let w = explain(&worst, &core, hz, "emulator");
        let names: Vec<(&str, &str, u64)> = w[0]
            .pieces
            .iter()
            .map(|p| (p.cause.as_str(), p.kind.as_str(), p.ns))
            .collect();
        assert_eq!(
            names,
            vec![
                ("emulator", "hw", 48),
                ("arch_timer", "irq", 912),
                ("RCU", "softirq", 640),
                ("emulator", "hw", 16)
            ]
        );
        assert_eq!(w[0].pieces.iter().map(|p| p.ns).sum::<u64>(), 1616);
        assert_eq!(w[0].pieces[1].share, round(912.0 / 1616.0));
        // An event with no split (another core's, or no attribution): no pieces.
        assert!(w[1].pieces.is_empty());
    }

    fn round(v: f64) -> f64 {
        crate::analysis::round6(v)
    }
}
