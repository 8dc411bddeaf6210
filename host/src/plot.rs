//! Plots with `plotters`, as PNG and SVG: the tail-latency CCDF (log-log, several runs overlaid),
//! the latency histogram (log count), and the timeline of noise events. The font is embedded
//! (DejaVu Sans), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use tickscope_core::hist::{Histogram, bucket_range};

/// Pixel size of every plot.
pub const SIZE: (u32, u32) = (1200, 700);

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, FONT);
    });
}

/// One run's data as the plots need it.
pub struct Series<'a> {
    /// Legend label, e.g. `generic (tcg)`.
    pub label: String,
    /// All values (latencies or gaps), ns.
    pub values: &'a Histogram,
    /// Events as (seconds since window start, duration in µs, core).
    pub events: Vec<(f64, f64, u16)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// (value ns, fraction of samples strictly above) at each bucket's upper edge.
pub fn ccdf_points(h: &Histogram) -> Vec<(f64, f64)> {
    let total = h.count() as f64;
    if total == 0.0 {
        return vec![];
    }
    let mut above = total;
    let mut pts = Vec::new();
    for (i, n) in h.buckets() {
        let (lo, w) = bucket_range(i);
        above -= n as f64;
        let x = (lo + w - 1).max(1) as f64;
        if above > 0.0 {
            pts.push((x, above / total));
        } else {
            // The last point: fraction 1/total (the plot's floor) at the maximum.
            pts.push((h.max().unwrap_or(lo) as f64, 1.0 / total.max(1.0)));
        }
    }
    pts
}

fn draw_ccdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    title: &str,
    unit_label: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let all: Vec<Vec<(f64, f64)>> = series.iter().map(|s| ccdf_points(s.values)).collect();
    let xmax = all.iter().flatten().map(|p| p.0).fold(10.0, f64::max) * 1.5;
    let xmin = all
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(f64::MAX, f64::min)
        .clamp(1.0, xmax / 10.0)
        / 1.5;
    let ymin = all
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(1.0, f64::min)
        .min(1e-3)
        / 2.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((xmin..xmax).log_scale(), (ymin..1.5).log_scale())
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc(unit_label)
        .y_desc("fraction of samples above")
        .x_label_formatter(&|v| fmt_ns(*v))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    for (i, (s, pts)) in series.iter().zip(&all).enumerate() {
        let color = COLORS[i % COLORS.len()];
        // Step shape: each value holds its fraction until the next one.
        let mut step = Vec::new();
        let mut prev_y = 1.0;
        for &(x, y) in pts {
            step.push((x, prev_y));
            step.push((x, y));
            prev_y = y;
        }
        chart
            .draw_series(LineSeries::new(step, color.stroke_width(2)))
            .map_err(|e| anyhow!("{e:?}"))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    legend_and_present(root, &mut chart)
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    title: &str,
    unit_label: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    // Counts per bucket, normalised by bucket width so log-linear buckets compare fairly.
    let data: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.values
                .buckets()
                .map(|(i, n)| {
                    let (lo, w) = bucket_range(i);
                    ((lo as f64 + w as f64 / 2.0).max(1.0), n as f64)
                })
                .collect()
        })
        .collect();
    let xmax = data.iter().flatten().map(|p| p.0).fold(10.0, f64::max) * 1.5;
    let xmin = data
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(f64::MAX, f64::min)
        .clamp(1.0, xmax / 10.0)
        / 1.5;
    let ymax = data.iter().flatten().map(|p| p.1).fold(10.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((xmin..xmax).log_scale(), (0.5..ymax).log_scale())
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc(unit_label)
        .y_desc("samples per bucket (log)")
        .x_label_formatter(&|v| fmt_ns(*v))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    for (i, (s, pts)) in series.iter().zip(&data).enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(|e| anyhow!("{e:?}"))?
            .label(s.label.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        chart
            .draw_series(LineSeries::new(pts.clone(), color.mix(0.5)))
            .map_err(|e| anyhow!("{e:?}"))?;
    }
    legend_and_present(root, &mut chart)
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let tmax = series
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.0))
        .fold(0.01, f64::max)
        * 1.02;
    let dmax = series
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.1))
        .fold(1.0, f64::max)
        * 2.0;
    let dmin = series
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.1))
        .fold(f64::MAX, f64::min)
        .clamp(0.01, dmax / 10.0)
        / 2.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..tmax, (dmin..dmax).log_scale())
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc("time since the window opened (s)")
        .y_desc("event duration (µs)")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let cores: std::collections::BTreeSet<u16> = s.events.iter().map(|e| e.2).collect();
        let multi = cores.len() > 1;
        for (k, core) in cores.iter().enumerate() {
            let shade = if multi {
                COLORS[(i + k) % COLORS.len()]
            } else {
                color
            };
            let label = if multi {
                format!("{} core {core}", s.label)
            } else {
                s.label.clone()
            };
            chart
                .draw_series(
                    s.events
                        .iter()
                        .filter(|e| e.2 == *core)
                        .map(|&(t, d, _)| Circle::new((t, d), 2, shade.filled())),
                )
                .map_err(|e| anyhow!("{e:?}"))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, shade.filled()));
        }
    }
    legend_and_present(root, &mut chart)
}

/// Draws the legend (upper right) and writes the plot out.
fn legend_and_present<'a, DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 18))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}

/// Which plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Tail-latency CCDF.
    Ccdf,
    /// Histogram.
    Histogram,
    /// Event timeline.
    Timeline,
}

impl Kind {
    /// File stem.
    pub fn stem(self) -> &'static str {
        match self {
            Kind::Ccdf => "ccdf",
            Kind::Histogram => "histogram",
            Kind::Timeline => "timeline",
        }
    }
}

/// Draws one plot as `<dir>/<stem>.png` and `.svg`. `unit_label` names the x axis of the CCDF
/// and histogram (e.g. `wake-up latency (ns)`).
pub fn draw(
    dir: &Path,
    kind: Kind,
    series: &[Series],
    title: &str,
    unit_label: &str,
) -> Result<()> {
    register_font();
    let png = dir.join(format!("{}.png", kind.stem()));
    let svg = dir.join(format!("{}.svg", kind.stem()));
    let tmp_png = dir.join(format!(".{}.tmp.png", kind.stem()));
    let tmp_svg = dir.join(format!(".{}.tmp.svg", kind.stem()));
    {
        let root = BitMapBackend::new(&tmp_png, SIZE).into_drawing_area();
        match kind {
            Kind::Ccdf => draw_ccdf(&root, series, title, unit_label)?,
            Kind::Histogram => draw_histogram(&root, series, title, unit_label)?,
            Kind::Timeline => draw_timeline(&root, series, title)?,
        }
    }
    {
        let root = SVGBackend::new(&tmp_svg, SIZE).into_drawing_area();
        match kind {
            Kind::Ccdf => draw_ccdf(&root, series, title, unit_label)?,
            Kind::Histogram => draw_histogram(&root, series, title, unit_label)?,
            Kind::Timeline => draw_timeline(&root, series, title)?,
        }
    }
    std::fs::rename(&tmp_png, &png)?;
    std::fs::rename(&tmp_svg, &svg)?;
    Ok(())
}

/// `850ns`, `12µs`, `3.4ms` for axis labels.
pub fn fmt_ns(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.3}s", v / 1e9)
    } else if v >= 1e6 {
        format!("{}ms", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}µs", trim(v / 1e3))
    } else {
        format!("{}ns", trim(v))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}
