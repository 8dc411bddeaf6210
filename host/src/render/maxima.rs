//! The largest event in each interval of the window, as OSADL's long-term plots show it: a time
//! series per run, so a disturbance that comes back (a periodic job, thermal throttling) shows
//! where a single worst case would hide it. Drawn as `maxima.png`/`.svg`, data in `maxima.json`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plot::{COLORS, View, err, fmt_ns, legend_and_present};

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

/// One run's maxima: per interval, its largest event in ns (`None`: none above the threshold).
pub fn maxima(r: &View, interval_s: f64) -> Vec<Option<f64>> {
    let n = (r.summary.duration_s / interval_s - 1e-9).ceil().max(1.0) as usize;
    let mut out: Vec<Option<f64>> = vec![None; n];
    let per_interval = interval_s * r.hz();
    for c in r.splits {
        for s in &c.splits {
            let at = s.start.saturating_sub(c.window_start) as f64 / per_interval;
            let slot = &mut out[(at as usize).min(n - 1)];
            let ns = r.ns(s.len);
            *slot = Some(slot.map_or(ns, |m| m.max(ns)));
        }
    }
    out
}

/// The data of the `maxima` plot: the interval, the threshold below which an interval shows no
/// event (`null`), and per run its maxima; `complete` is false when the run kept only part of
/// its events (then later intervals may be missing theirs).
pub fn maxima_json(runs: &[View]) -> serde_json::Value {
    let window = runs
        .iter()
        .map(|r| r.summary.duration_s)
        .fold(0.0, f64::max);
    let interval = interval_s(window);
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "label": r.summary.label,
                "threshold_ns": r.summary.threshold_ns,
                "complete": r.summary.attributed.lower_bound.is_none(),
                "maxima_ns": maxima(r, interval),
            })
        })
        .collect();
    serde_json::json!({ "interval_s": interval, "runs": runs })
}

/// Each run's maxima over time (points joined by lines), its threshold dashed.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let window = runs
        .iter()
        .map(|r| r.summary.duration_s)
        .fold(0.0, f64::max);
    let interval = interval_s(window);
    let series: Vec<Vec<Option<f64>>> = runs.iter().map(|r| maxima(r, interval)).collect();
    let ymax = series
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(1_000.0, f64::max)
        * 2.0;
    let ymin = runs
        .iter()
        .map(|r| r.summary.threshold_ns as f64)
        .fold(f64::MAX, f64::min)
        .clamp(1.0, ymax / 10.0)
        / 2.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{title} ({} s intervals)", interval),
            ("sans-serif", 24),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..window.max(interval) * 1.02, (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since the window opened (s)")
        .y_desc("largest event in the interval (log)")
        .y_label_formatter(&|v| fmt_ns(*v))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (i, (r, m)) in runs.iter().zip(&series).enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = m
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.map(|ns| ((k as f64 + 0.5) * interval, ns)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(format!(
                "{} ({} of {} intervals with an event)",
                r.summary.label,
                pts.len(),
                m.len()
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
        let t = r.summary.threshold_ns as f64;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, t), (window, t)],
                6,
                4,
                color.mix(0.4).stroke_width(1),
            ))
            .map_err(err)?;
    }
    legend_and_present(root, &mut chart)
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
