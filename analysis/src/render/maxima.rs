//! The largest event in each interval of the window, as OSADL's long-term plots show it: a time
//! series per run, so a disturbance that comes back (a periodic job, thermal throttling) shows
//! where a single worst case would hide it. The data (`maxima.json`); `plot` draws it.

use crate::analysis::summary::{CoreSplits, Summary};

/// Intervals a window is cut into, at most (the interval is the window over this, rounded up to
/// a 1-2-5 step of at least 10 ms): the plot's size does not grow with the run's length.
pub const MAX_INTERVALS: f64 = 120.0;

/// The interval for a window of `window_s` seconds: `window_s / MAX_INTERVALS` rounded up to a
/// 1-2-5 step, 10 ms at least (a 5.5 h run, the length of OSADL's, gets 200 s intervals).
pub fn interval_s(window_s: f64) -> f64 {
    let want = window_s / MAX_INTERVALS;
    // In units of 10 ms: 1, 2, 5, 10, 20, 50, ...
    let mut decade = 1u64;
    loop {
        for m in [1, 2, 5] {
            let units = decade * m;
            if units as f64 / 100.0 >= want {
                return units as f64 / 100.0;
            }
        }
        decade *= 10;
    }
}

/// One run's maxima: per interval, its largest event in ns (`None`: none above the threshold),
/// from every event (each core's slots, not only its kept events).
pub fn maxima(summary: &Summary, splits: &[CoreSplits], interval_s: f64) -> Vec<Option<f64>> {
    let n = (summary.duration_s / interval_s - 1e-9).ceil().max(1.0) as usize;
    let mut out: Vec<Option<f64>> = vec![None; n];
    let interval_ns = ((interval_s * 1e9).round() as u64).max(1);
    for c in splits {
        for (at_ns, ns) in c.maxima.slots() {
            // The interval a slot starts in: exact when the interval is a multiple of the slot.
            let slot = &mut out[((at_ns / interval_ns) as usize).min(n - 1)];
            let ns = ns as f64;
            *slot = Some(slot.map_or(ns, |m| m.max(ns)));
        }
    }
    out
}

/// The widest slot of a run's cores, seconds: an interval that is a multiple of it puts every
/// event in its own interval (the default intervals always are).
pub fn resolution_s(splits: &[CoreSplits]) -> f64 {
    let ns = splits.iter().map(|c| c.maxima.width_ns()).max();
    ns.unwrap_or(crate::analysis::slots::FIRST_WIDTH_NS) as f64 / 1e9
}

/// Whether the maxima hold every event of the run: false for a device that shipped
/// histograms instead of events (no times to place them at).
fn complete(summary: &Summary, splits: &[CoreSplits]) -> bool {
    splits.iter().map(|c| c.maxima.events()).sum::<u64>() >= summary.events
}

/// Intervals an asked-for interval (`--interval`) may cut the longest window into: a plot's
/// worth of points, so the plot and `maxima.json` stay a few MB whatever is asked.
pub const MAX_ASKED_INTERVALS: f64 = 10_000.0;

/// Checks an asked-for interval against the longest window: positive, and at most
/// [`MAX_ASKED_INTERVALS`] of them.
pub fn check_interval(asked_s: f64, window_s: f64) -> Result<(), String> {
    if !(asked_s > 0.0) {
        return Err(format!(
            "--interval must be longer than 0 s (got {asked_s} s)"
        ));
    }
    let n = (window_s / asked_s).ceil();
    if n > MAX_ASKED_INTERVALS {
        return Err(format!(
            "--interval {asked_s} s cuts the {window_s} s window into {n} intervals; at most {MAX_ASKED_INTERVALS} (a longer interval, or leave it out to have one chosen)"
        ));
    }
    Ok(())
}

/// The data of the `maxima` plot: the interval, the threshold below which an interval shows no
/// event (`null`), and per run its maxima from every event; `complete` is false when some
/// events had no time to place them by (a device that shipped histograms), `resolution_s` the
/// slot the events were gathered in (an interval that is not a multiple of it may see an event
/// near its start in the interval before).
pub fn maxima_json(runs: &[(&Summary, &[CoreSplits])], interval: f64) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|&(summary, splits)| {
            serde_json::json!({
                "label": summary.label,
                "threshold_ns": summary.threshold_ns,
                "complete": complete(summary, splits),
                "resolution_s": resolution_s(splits),
                "maxima_ns": maxima(summary, splits, interval),
            })
        })
        .collect();
    serde_json::json!({ "interval_s": interval, "runs": runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_1_2_5_steps_and_bounded_in_number() {
        assert_eq!(interval_s(1.0), 0.01);
        assert_eq!(interval_s(5.0), 0.05);
        assert_eq!(interval_s(60.0), 0.5);
        assert_eq!(interval_s(3600.0), 50.0);
        // OSADL's 5 h 33 min run.
        assert_eq!(interval_s(5.55 * 3600.0), 200.0);
        for w in [0.5, 7.0, 123.0, 86_400.0] {
            assert!(w / interval_s(w) <= MAX_INTERVALS + 1e-9, "{w}");
        }
    }
}
