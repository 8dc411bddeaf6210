//! rteval's XML summary of a cyclictest measurement (`export --format rteval`): the system and
//! each core with rteval's `<statistics>` over 1 µs buckets, and the `<histogram>` itself.
//! Pure: from histograms to text; `cli/export.rs` feeds it a run.

use std::collections::BTreeMap;
use std::fmt::Write;

/// rteval's statistics of a 1 µs histogram (bucket index = latency in whole µs), as its
/// cyclictest module reduces them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Samples.
    pub samples: u64,
    /// Smallest and largest bucket with samples, µs.
    pub minimum: u64,
    /// See `minimum`.
    pub maximum: u64,
    /// Middle value (the mean of the two middle ones for an even count), µs.
    pub median: f64,
    /// The bucket with the most samples (the lowest of equals), µs.
    pub mode: u64,
    /// `maximum - minimum`, µs.
    pub range: u64,
    /// Mean, µs.
    pub mean: f64,
    /// Mean of |value - mean|, µs.
    pub mean_absolute_deviation: f64,
    /// Sample variance (n - 1), µs².
    pub variance: f64,
    /// Its square root, µs.
    pub standard_deviation: f64,
}

/// The statistics of `hist` (µs -> count); `None` when it holds no sample.
pub fn stats(hist: &BTreeMap<u64, u64>) -> Option<Stats> {
    let n: u64 = hist.values().sum();
    let nonzero = || hist.iter().filter(|(_, c)| **c > 0);
    let (&minimum, _) = nonzero().next()?;
    let (&maximum, _) = nonzero().next_back()?;
    let mean = nonzero().map(|(&v, &c)| v as f64 * c as f64).sum::<f64>() / n as f64;
    let mode = nonzero()
        .fold(
            (0, 0),
            |best, (&v, &c)| if c > best.1 { (v, c) } else { best },
        )
        .0;
    let nth = |k: u64| {
        let mut seen = 0;
        for (&v, &c) in nonzero() {
            seen += c;
            if seen > k {
                return v;
            }
        }
        maximum
    };
    let median = if n % 2 == 1 {
        nth(n / 2) as f64
    } else {
        (nth(n / 2 - 1) + nth(n / 2)) as f64 / 2.0
    };
    let mad = nonzero()
        .map(|(&v, &c)| (v as f64 - mean).abs() * c as f64)
        .sum::<f64>()
        / n as f64;
    let variance = if n > 1 {
        nonzero()
            .map(|(&v, &c)| (v as f64 - mean).powi(2) * c as f64)
            .sum::<f64>()
            / (n - 1) as f64
    } else {
        0.0
    };
    Some(Stats {
        samples: n,
        minimum,
        maximum,
        median,
        mode,
        range: maximum - minimum,
        mean,
        mean_absolute_deviation: mad,
        variance,
        standard_deviation: variance.sqrt(),
    })
}

/// One measured core: its CPU and its histogram (µs -> count).
pub struct Core {
    /// CPU number.
    pub id: u32,
    /// Histogram at 1 µs.
    pub histogram: BTreeMap<u64, u64>,
}

/// What the summary says about the run besides the cores.
pub struct RunFacts<'a> {
    /// The producer (`tickscope 0.1.0`).
    pub version: &'a str,
    /// Start, RFC 3339 (`2026-12-06T15:00:00Z`).
    pub start_time: &'a str,
    /// Window length, seconds.
    pub duration_s: f64,
    /// Host name or board.
    pub node: &'a str,
    /// Kernel release (empty on bare metal).
    pub kernel: &'a str,
    /// Whether the kernel is PREEMPT_RT.
    pub realtime: bool,
    /// What measured: the command line attribute of `<cyclictest>`.
    pub command_line: &'a str,
    /// Scheduling priority of the measuring thread (rteval's `priority`).
    pub priority: u32,
    /// The system's description (`(1 cores) qemu-virt`).
    pub description: &'a str,
}

/// Escapes text for an XML attribute or element.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `<statistics>` and `<histogram>` of one histogram, indented by `pad`.
fn body(out: &mut String, hist: &BTreeMap<u64, u64>, pad: &str) {
    let Some(s) = stats(hist) else {
        let _ = writeln!(
            out,
            "{pad}<statistics>\n{pad}  <samples>0</samples>\n{pad}</statistics>"
        );
        return;
    };
    let _ = writeln!(out, "{pad}<statistics>");
    let _ = writeln!(out, "{pad}  <samples>{}</samples>", s.samples);
    let us = |name: &str, v: String, out: &mut String| {
        let _ = writeln!(out, "{pad}  <{name} unit=\"us\">{v}</{name}>");
    };
    us("minimum", s.minimum.to_string(), out);
    us("maximum", s.maximum.to_string(), out);
    us("median", s.median.to_string(), out);
    us("mode", s.mode.to_string(), out);
    us("range", s.range.to_string(), out);
    us("mean", s.mean.to_string(), out);
    us(
        "mean_absolute_deviation",
        s.mean_absolute_deviation.to_string(),
        out,
    );
    us("variance", s.variance.to_string(), out);
    us("standard_deviation", s.standard_deviation.to_string(), out);
    let _ = writeln!(out, "{pad}</statistics>");
    let buckets: Vec<_> = hist.iter().filter(|(_, c)| **c > 0).collect();
    let _ = writeln!(out, "{pad}<histogram nbuckets=\"{}\">", buckets.len());
    for (v, c) in buckets {
        let _ = writeln!(out, "{pad}  <bucket index=\"{v}\" value=\"{c}\"/>");
    }
    let _ = writeln!(out, "{pad}</histogram>");
}

/// rteval's XML summary: `<rteval>` with `<run_info>`, `<uname>` and, under `<Measurements>`,
/// `<cyclictest>` holding `<system>` (every core's samples together) and one `<core>` each.
pub fn summary_xml(run: &RunFacts, cores: &[Core]) -> String {
    let secs = run.duration_s.round() as u64;
    let (date, time) = run
        .start_time
        .split_once('T')
        .map(|(d, t)| (d, t.trim_end_matches('Z')))
        .unwrap_or((run.start_time, ""));
    let time = time.split('.').next().unwrap_or(time);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<rteval version=\"{}\">", esc(run.version));
    let _ = writeln!(
        out,
        "  <run_info days=\"{}\" hours=\"{}\" minutes=\"{}\" seconds=\"{}\">\n    <date>{}</date>\n    <time>{}</time>\n  </run_info>",
        secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        esc(date),
        esc(time)
    );
    let _ = writeln!(
        out,
        "  <uname>\n    <node>{}</node>\n    <kernel is_RT=\"{}\">{}</kernel>\n  </uname>",
        esc(run.node),
        u8::from(run.realtime),
        esc(run.kernel)
    );
    let _ = writeln!(out, "  <Measurements>");
    let _ = writeln!(
        out,
        "    <cyclictest command_line=\"{}\">",
        esc(run.command_line)
    );
    let mut system = BTreeMap::new();
    for c in cores {
        for (&v, &n) in &c.histogram {
            *system.entry(v).or_insert(0) += n;
        }
    }
    let _ = writeln!(
        out,
        "      <system description=\"{}\">",
        esc(run.description)
    );
    body(&mut out, &system, "        ");
    let _ = writeln!(out, "      </system>");
    for c in cores {
        let _ = writeln!(
            out,
            "      <core id=\"{}\" priority=\"{}\">",
            c.id, run.priority
        );
        body(&mut out, &c.histogram, "        ");
        let _ = writeln!(out, "      </core>");
    }
    out += "    </cyclictest>\n  </Measurements>\n</rteval>\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(v: &[(u64, u64)]) -> BTreeMap<u64, u64> {
        v.iter().copied().collect()
    }

    #[test]
    fn statistics_are_rteval_s_over_whole_microseconds() {
        // Values 1, 1, 3, 3, 3, 9: mean 20/6, median (3 + 3)/2, mode 3, range 8.
        let s = stats(&hist(&[(1, 2), (3, 3), (9, 1), (5, 0)])).unwrap();
        let mean = 20.0 / 6.0;
        assert_eq!((s.samples, s.minimum, s.maximum, s.range), (6, 1, 9, 8));
        assert_eq!((s.median, s.mode), (3.0, 3));
        assert!((s.mean - mean).abs() < 1e-12);
        let mad = (2.0 * (mean - 1.0) + 3.0 * (mean - 3.0) + (9.0 - mean)) / 6.0;
        assert!((s.mean_absolute_deviation - mad).abs() < 1e-12);
        let var =
            (2.0 * (1.0 - mean).powi(2) + 3.0 * (3.0 - mean).powi(2) + (9.0 - mean).powi(2)) / 5.0;
        assert!((s.variance - var).abs() < 1e-12);
        assert!((s.standard_deviation - var.sqrt()).abs() < 1e-12);
        // An even count between two buckets: their mean.
        assert_eq!(stats(&hist(&[(2, 1), (4, 1)])).unwrap().median, 3.0);
        assert_eq!(stats(&hist(&[(2, 0)])), None);
    }

    #[test]
    fn the_summary_has_rteval_s_elements_and_the_system_sums_the_cores() {
        let run = RunFacts {
            version: "tickscope 0.1.0",
            start_time: "2026-12-06T15:04:05.123Z",
            duration_s: 3725.0,
            node: "qemu-virt",
            kernel: "6.1.0-57-arm64",
            realtime: false,
            command_line: "tickscope linux --mode timer",
            priority: 95,
            description: "(2 cores) qemu-virt",
        };
        let cores = [
            Core {
                id: 2,
                histogram: hist(&[(10, 5), (12, 1)]),
            },
            Core {
                id: 3,
                histogram: hist(&[(10, 1), (40, 1)]),
            },
        ];
        let x = summary_xml(&run, &cores);
        for want in [
            "<rteval version=\"tickscope 0.1.0\">",
            "<run_info days=\"0\" hours=\"1\" minutes=\"2\" seconds=\"5\">",
            "<date>2026-12-06</date>",
            "<time>15:04:05</time>",
            "<kernel is_RT=\"0\">6.1.0-57-arm64</kernel>",
            "<cyclictest command_line=\"tickscope linux --mode timer\">",
            "<system description=\"(2 cores) qemu-virt\">",
            "<core id=\"3\" priority=\"95\">",
            "<bucket index=\"10\" value=\"6\"/>",
            "<samples>8</samples>",
            "<maximum unit=\"us\">40</maximum>",
            "<standard_deviation unit=\"us\">",
        ] {
            assert!(x.contains(want), "{want} in\n{x}");
        }
        assert_eq!(x.matches("<statistics>").count(), 3);
    }
}
