//! rt-tests' formats (cyclictest and oslat, version 2.x): their `--json=` files, cyclictest's
//! histogram (`-h`) output and oslat's printed summary, read into one shape; and our runs written
//! in cyclictest's JSON layout. Every value of theirs is in whole microseconds.

use std::collections::BTreeMap;
use tickscope_core::config::{Config, Mode, TimerChoice};
use tickscope_core::hist::Histogram;
use tickscope_core::wire::msg::{
    BLOCK, CoreStatus, HistogramPart, Metric, RunHeader, Source, Trailer, Window,
};
use tickscope_core::wire::{self, Encoder, Message};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use tickscope_core::wire::msg::PeerTool;

/// One measuring thread of an rt-tests run (one CPU).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Thread {
    /// CPU it ran on, when the output says.
    pub cpu: Option<u32>,
    /// Samples: cyclictest's wake-ups, oslat's loop iterations (from the histogram when the
    /// output has no count).
    pub cycles: u64,
    /// Minimum, us.
    pub min_us: u64,
    /// Average, us.
    pub avg_us: f64,
    /// Maximum, us, floor (whatever the histogram's range; oslat's printed maximum less one).
    pub max_us: u64,
    /// Histogram: bucket (us, the value's floor) to count; empty when the run kept none. (oslat
    /// names buckets by their upper edge: read as floors here.)
    pub histogram: BTreeMap<u64, u64>,
    /// Values beyond the histogram's range (cyclictest `# Histogram Overflows`), counted apart.
    pub overflow: u64,
    /// Where the histogram's range ends, us (values at or above land in `overflow`), when known.
    pub range_us: Option<u64>,
}

impl Thread {
    /// Samples in the histogram (overflow included).
    pub fn histogram_total(&self) -> u64 {
        self.histogram.values().sum::<u64>() + self.overflow
    }

    /// The value (us) at quantile `num/den` from the histogram, overflow counted at the top.
    pub fn quantile_us(&self, num: u64, den: u64) -> Option<u64> {
        let total = self.histogram_total();
        if total == 0 {
            return None;
        }
        let rank = (total * num).div_ceil(den).max(1);
        let mut seen = 0;
        for (&us, &n) in &self.histogram {
            seen += n;
            if seen >= rank {
                return Some(us);
            }
        }
        Some(self.max_us)
    }

    /// Samples at or above `threshold_us` (overflow included), from the histogram.
    pub fn at_or_above(&self, threshold_us: u64) -> Option<u64> {
        (!self.histogram.is_empty() || self.overflow > 0).then(|| {
            self.histogram
                .range(threshold_us..)
                .map(|(_, n)| n)
                .sum::<u64>()
                + self.overflow
        })
    }
}

/// An rt-tests run, from any of its outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct RtRun {
    /// Which tool.
    pub tool: PeerTool,
    /// Its version (`2.40`), when the output says.
    pub version: Option<String>,
    /// Its command line, when the output says.
    pub cmdline: Option<String>,
    /// Kernel release (`sysinfo.release`), when the output says.
    pub kernel: Option<String>,
    /// `sysinfo.realtime` (PREEMPT_RT), when the output says.
    pub realtime: Option<bool>,
    /// Run time, seconds, when the output says (oslat), or from the command line.
    pub duration_s: Option<f64>,
    /// cyclictest's interval, us, from the command line.
    pub interval_us: Option<u64>,
    /// Its threads.
    pub threads: Vec<Thread>,
    /// Which output it was read from (`json`, `histogram`, `text`).
    pub format: &'static str,
}

fn u(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A value of `key`, or of rt-tests 2.x's misspelt `key:` (`"cmdline:"`).
fn field<'a>(o: &'a Value, key: &str) -> Option<&'a Value> {
    o.get(key).or_else(|| o.get(format!("{key}:")))
}

/// `--duration=2`, `-D 2`, `-D2`, `--duration 20m`: seconds.
fn cmdline_seconds(cmd: &str, long: &str, short: &str) -> Option<f64> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let mut value = None;
    for (i, w) in words.iter().enumerate() {
        if let Some(v) = w.strip_prefix(&format!("{long}=")) {
            value = Some(v.to_string());
        } else if *w == long || *w == short {
            value = words.get(i + 1).map(|s| s.to_string());
        } else if let Some(v) = w.strip_prefix(short).filter(|v| !v.is_empty()) {
            value = Some(v.to_string());
        }
    }
    let v = value?;
    let (num, mult) = match v.chars().last()? {
        's' | 'S' => (&v[..v.len() - 1], 1.0),
        'm' | 'M' => (&v[..v.len() - 1], 60.0),
        'h' | 'H' => (&v[..v.len() - 1], 3600.0),
        'd' | 'D' => (&v[..v.len() - 1], 86400.0),
        _ => (v.as_str(), 1.0),
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

/// Which tool wrote a JSON file, and whether it names values by their bucket's upper edge
/// (oslat does): the command's program, else oslat's threads carry `freq`. tickscope's own
/// exports (`export --format rt-tests`) say `tickscope` and their mode, in floors.
fn json_tool(v: &Value, hint: Option<PeerTool>) -> (PeerTool, bool) {
    let cmd = field(v, "cmdline").and_then(Value::as_str).unwrap_or("");
    let program = cmd
        .split_whitespace()
        .next()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("");
    if program == "tickscope" {
        let noise = cmd.contains("noise mode");
        return (
            if noise {
                PeerTool::Oslat
            } else {
                PeerTool::Cyclictest
            },
            false,
        );
    }
    let tool = hint.unwrap_or(match program {
        "oslat" => PeerTool::Oslat,
        "cyclictest" => PeerTool::Cyclictest,
        _ => {
            let oslat_like = v
                .get("thread")
                .and_then(Value::as_object)
                .and_then(|t| t.values().next())
                .is_some_and(|t| t.get("freq").is_some());
            if oslat_like {
                PeerTool::Oslat
            } else {
                PeerTool::Cyclictest
            }
        }
    });
    (tool, tool == PeerTool::Oslat)
}

/// A thread's `histogram` object (`"us": count`), zero counts left out.
fn json_histogram(t: &Value) -> Result<BTreeMap<u64, u64>> {
    let mut histogram = BTreeMap::new();
    if let Some(h) = t.get("histogram").and_then(Value::as_object) {
        for (k, n) in h {
            let (Ok(us), Some(n)) = (k.trim().parse::<u64>(), u(n)) else {
                bail!("rt-tests JSON: histogram entry `{k}` is not `us: count`");
            };
            if n > 0 {
                *histogram.entry(us).or_insert(0) += n;
            }
        }
    }
    Ok(histogram)
}

/// Reads an rt-tests `--json=` file (cyclictest or oslat; `hint` when the caller knows which).
pub fn parse_json(text: &str, hint: Option<PeerTool>) -> Result<RtRun> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("not an rt-tests JSON file: {e}"))?;
    let Some(threads) = v.get("thread").and_then(Value::as_object) else {
        bail!("not an rt-tests JSON file: no `thread` object");
    };
    if threads.is_empty() {
        bail!("the rt-tests JSON file has no threads (the run did not finish?)");
    }
    let (tool, upper_edges) = json_tool(&v, hint);
    let cmdline = field(&v, "cmdline")
        .and_then(Value::as_str)
        .map(String::from);
    let mut out = Vec::new();
    let mut keys: Vec<(&String, &Value)> = threads.iter().collect();
    keys.sort_by_key(|(k, _)| k.parse::<u64>().unwrap_or(u64::MAX));
    let mut duration_s = None;
    for (_, t) in keys {
        let mut histogram = json_histogram(t)?;
        let max_us = t
            .get("max")
            .and_then(u)
            .ok_or_else(|| anyhow::anyhow!("rt-tests JSON: a thread without `max`"))?;
        // oslat names a value by its bucket's upper edge (`1` holds every gap under 1 us, its
        // max 41 is a gap in [40, 41) us); cyclictest by its floor. Kept here as floors.
        let edge = u64::from(upper_edges);
        if edge == 1 {
            histogram = histogram
                .into_iter()
                .map(|(us, n)| (us.saturating_sub(1), n))
                .collect();
        }
        let hist_total: u64 = histogram.values().sum();
        duration_s = duration_s.or_else(|| t.get("duration").and_then(f));
        out.push(Thread {
            cpu: t.get("cpu").and_then(u).map(|c| c as u32),
            cycles: t.get("cycles").and_then(u).unwrap_or(hist_total),
            min_us: t.get("min").and_then(u).unwrap_or(0).saturating_sub(edge),
            avg_us: t.get("avg").and_then(f).unwrap_or(0.0),
            max_us: max_us.saturating_sub(edge),
            histogram,
            overflow: 0,
            range_us: None,
        });
    }
    let sysinfo = v.get("sysinfo");
    Ok(RtRun {
        tool,
        version: field(&v, "rt_test_version").and_then(|x| {
            x.as_str()
                .map(String::from)
                .or_else(|| f(x).map(|f| format!("{f:.2}")))
        }),
        kernel: sysinfo
            .and_then(|s| s.get("release"))
            .and_then(Value::as_str)
            .map(String::from),
        realtime: sysinfo
            .and_then(|s| s.get("realtime"))
            .and_then(u)
            .map(|r| r == 1),
        duration_s: duration_s.or_else(|| {
            cmdline
                .as_deref()
                .and_then(|c| cmdline_seconds(c, "--duration", "-D"))
        }),
        interval_us: cmdline
            .as_deref()
            .and_then(|c| cmdline_seconds(c, "--interval", "-i"))
            .map(|s| s as u64),
        cmdline,
        threads: out,
        format: "json",
    })
}

/// Reads cyclictest's histogram output (`-h N`, with or without `-q`): `NNNNNN count...` lines
/// (one column per thread) and `# Min/Avg/Max Latencies`, `# Histogram Overflows`.
pub fn parse_cyclictest_histogram(text: &str) -> Result<RtRun> {
    let mut rows: Vec<(u64, Vec<u64>)> = Vec::new();
    let mut stats: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('#') {
            if let Some((k, v)) = rest.split_once(':') {
                stats.insert(
                    k.trim().to_lowercase(),
                    v.split_whitespace().map(String::from).collect(),
                );
            }
            continue;
        }
        let nums: Vec<u64> = line
            .split_whitespace()
            .map_while(|w| w.parse().ok())
            .collect();
        if nums.len() >= 2 && nums.len() == line.split_whitespace().count() {
            rows.push((nums[0], nums[1..].to_vec()));
        }
    }
    let Some(max) = stats.get("max latencies") else {
        bail!("not cyclictest histogram output: no `# Max Latencies:` line");
    };
    let n = max.len();
    if rows.is_empty() {
        bail!("cyclictest histogram output without histogram lines");
    }
    let col = |key: &str, i: usize| -> Option<String> { stats.get(key)?.get(i).cloned() };
    let mut threads = Vec::new();
    for i in 0..n {
        let mut histogram = BTreeMap::new();
        for (us, counts) in &rows {
            if let Some(&c) = counts.get(i)
                && c > 0
            {
                histogram.insert(*us, c);
            }
        }
        let num = |s: Option<String>| s.and_then(|s| s.parse::<f64>().ok());
        let total = num(col("total", i)).map(|t| t as u64);
        threads.push(Thread {
            cpu: None,
            cycles: total.unwrap_or_else(|| histogram.values().sum()),
            min_us: num(col("min latencies", i)).unwrap_or(0.0) as u64,
            avg_us: num(col("avg latencies", i)).unwrap_or(0.0),
            max_us: num(col("max latencies", i)).unwrap_or(0.0) as u64,
            overflow: num(col("histogram overflows", i)).unwrap_or(0.0) as u64,
            range_us: rows.last().map(|(us, _)| us + 1),
            histogram,
        });
    }
    Ok(RtRun {
        tool: PeerTool::Cyclictest,
        version: None,
        cmdline: None,
        kernel: None,
        realtime: None,
        duration_s: None,
        interval_us: None,
        threads,
        format: "histogram",
    })
}

/// Reads oslat's printed summary: `Core:`, `NNN (us):` bucket lines, `Minimum:`, `Average:`,
/// `Maximum:`, `Duration:` (one column per CPU).
pub fn parse_oslat_text(text: &str) -> Result<RtRun> {
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    let mut version = None;
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("oslat V ") {
            version = Some(v.trim().to_string());
        }
        if let Some((k, v)) = line.split_once(":\t").or_else(|| line.split_once(": ")) {
            fields.push((
                k.trim().to_string(),
                v.split_whitespace().map(String::from).collect(),
            ));
        }
    }
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(max) = get("Maximum") else {
        bail!("not oslat output: no `Maximum:` line");
    };
    // Values are followed by their unit in parentheses: `40 (us)`; one per CPU.
    let values = |v: &[String]| -> Vec<f64> {
        v.iter()
            .filter(|w| !w.starts_with('('))
            .filter_map(|w| w.parse().ok())
            .collect()
    };
    let maxes = values(&max);
    let cores = get("Core").map(|v| values(&v)).unwrap_or_default();
    let mins = get("Minimum").map(|v| values(&v)).unwrap_or_default();
    let avgs = get("Average").map(|v| values(&v)).unwrap_or_default();
    let durs = get("Duration").map(|v| values(&v)).unwrap_or_default();
    let mut threads = Vec::new();
    for (i, &m) in maxes.iter().enumerate() {
        let mut histogram = BTreeMap::new();
        for (k, v) in &fields {
            if let Some(us) = k
                .strip_suffix(" (us)")
                .and_then(|n| n.trim().parse::<u64>().ok())
                && let Some(&c) = values(v).get(i)
                && c > 0.0
            {
                // Upper edges, as in its JSON: kept as floors.
                histogram.insert(us.saturating_sub(1), c as u64);
            }
        }
        threads.push(Thread {
            cpu: cores.get(i).map(|c| *c as u32),
            cycles: histogram.values().sum(),
            min_us: (mins.get(i).copied().unwrap_or(0.0) as u64).saturating_sub(1),
            avg_us: avgs.get(i).copied().unwrap_or(0.0),
            max_us: (m as u64).saturating_sub(1),
            histogram,
            overflow: 0,
            range_us: None,
        });
    }
    if threads.is_empty() {
        bail!("oslat output without a `Maximum:` value");
    }
    Ok(RtRun {
        tool: PeerTool::Oslat,
        version,
        cmdline: None,
        kernel: None,
        realtime: None,
        duration_s: durs.first().copied(),
        interval_us: None,
        threads,
        format: "text",
    })
}

/// Reads any of the above, by what the text looks like; `None` when it is none of them.
pub fn parse_any(bytes: &[u8]) -> Option<Result<RtRun>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let t = text.trim_start();
    if t.starts_with('{') {
        return Some(parse_json(text, None));
    }
    if text.contains("# Max Latencies") || text.contains("# Histogram") {
        return Some(parse_cyclictest_histogram(text));
    }
    if text.contains("oslat V") || (text.contains("Maximum:") && text.contains("(us)")) {
        return Some(parse_oslat_text(text));
    }
    None
}

/// An rt-tests run as a tickscope capture: per thread (one CPU each) a window, its histogram as
/// a reduced run's (values at their microsecond floor, the exact max apart), its status and the
/// end trailer, in nanoseconds. What it has no data for (per-event times, causes) stays out.
pub fn to_wire(run: &RtRun, threshold_ns: u64) -> Vec<u8> {
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    let mut send = |m: &Message| {
        if let Ok(f) = enc.encode(m) {
            out.extend_from_slice(f);
        }
    };
    let config = rt_config(run, threshold_ns);
    send(&Message::Header(rt_header(run, config)));
    for (i, t) in run.threads.iter().enumerate() {
        let core = thread_cpu(i, t);
        let end = thread_duration_ns(run, t);
        send(&Message::Window(Window {
            core,
            start: 0,
            end,
            threshold: threshold_ns,
        }));
        for events in [false, true] {
            let metric = match (config.mode, events) {
                (Mode::Timer, _) => Metric::Latency,
                (_, false) => Metric::LoopGap,
                (_, true) => Metric::NoiseEvent,
            };
            for part in histogram_parts(t, threshold_ns, events, core, metric) {
                send(&Message::Histogram(part));
            }
        }
        send(&Message::CoreStatus(CoreStatus {
            core,
            samples: t.cycles,
            window_start: 0,
            window_end: end,
            ..CoreStatus::default()
        }));
    }
    send(&Message::End(Trailer {
        status: 0,
        cores_online: config.smp,
        at: 0,
    }));
    out
}

/// The CPU a thread ran on (its index when the tool did not say).
fn thread_cpu(i: usize, t: &Thread) -> u16 {
    t.cpu.map(|c| c as u16).unwrap_or(i as u16)
}

/// The run's interval in ns (cyclictest's default 1 ms when it did not say).
fn interval_ns(run: &RtRun) -> u64 {
    run.interval_us.unwrap_or(1000) * 1000
}

/// How long a thread measured: the run's duration, else its cycles times the interval.
fn thread_duration_ns(run: &RtRun, t: &Thread) -> u64 {
    match run.duration_s {
        Some(d) => (d * 1e9) as u64,
        None => t.cycles * interval_ns(run),
    }
}

/// The configuration the run amounts to: its mode, CPUs, duration, interval and our threshold.
fn rt_config(run: &RtRun, threshold_ns: u64) -> Config {
    let cpus = run
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| thread_cpu(i, t));
    let cores = cpus
        .clone()
        .fold(0u64, |m, c| m | 1u64.checked_shl(c as u32).unwrap_or(0));
    Config {
        mode: match run.tool {
            PeerTool::Oslat => Mode::Noise,
            PeerTool::Cyclictest => Mode::Timer,
        },
        smp: cpus.map(|c| c + 1).max().unwrap_or(1),
        cores,
        duration_ns: run
            .threads
            .first()
            .map(|t| thread_duration_ns(run, t))
            .unwrap_or(0),
        period_ns: interval_ns(run),
        threshold_ns,
        ..Config::default()
    }
}

/// Cuts `s` to what a bounded string holds.
fn text<const N: usize>(s: &str) -> heapless::String<N> {
    let mut h = heapless::String::new();
    for c in s.chars() {
        if h.push(c).is_err() {
            break;
        }
    }
    h
}

/// The header of a reduced run in ns, named for the tool.
fn rt_header(run: &RtRun, config: Config) -> RunHeader {
    RunHeader {
        format: wire::FORMAT_VERSION as u16,
        source: Source::LinuxProbe,
        board: text(run.tool.name()),
        midr: 0,
        el: 0,
        boot_el: 0,
        gic: 0,
        counter_hz: 1_000_000_000,
        reset_ticks: 0,
        config,
        boot_core: 0,
        timer: TimerChoice::default(),
        pmu: false,
        reduced: true,
        revision: text(&format!(
            "{} {}",
            run.tool.name(),
            run.version.as_deref().unwrap_or("")
        )),
        kernel: text(run.kernel.as_deref().unwrap_or("")),
        cmdline: heapless::String::new(),
    }
}

/// A thread's histogram (all values, or with `events` only those at or above the threshold) in
/// wire parts of at most `BLOCK` buckets, the last with min, max and sum. None when it is empty.
fn histogram_parts(
    t: &Thread,
    threshold_ns: u64,
    events: bool,
    core: u16,
    metric: Metric,
) -> Vec<HistogramPart> {
    // Values beyond the histogram's range are known only to be at or above it.
    let top = t.range_us.unwrap_or(t.max_us) * 1000;
    let mut h = Histogram::new();
    let mut sum: u128 = 0;
    let mut min = u64::MAX;
    let mut max = 0;
    let values = t
        .histogram
        .iter()
        .map(|(&us, &n)| (us * 1000, n))
        .chain((t.overflow > 0).then_some((top, t.overflow)));
    // An event is a value above the threshold: with whole microseconds, every bucket at or above
    // the threshold rounded up (as the peers' `events_per_s`).
    let from = threshold_ns.div_ceil(1000).max(1) * 1000;
    for (v, n) in values {
        if events && v < from {
            continue;
        }
        h.record_n(v, n);
        sum += v as u128 * n as u128;
        min = min.min(v);
        max = max.max(v);
    }
    if h.count() == 0 && !(events && t.max_us * 1000 > threshold_ns) {
        return Vec::new();
    }
    // The tool's exact maximum stands even where its histogram stops short of it.
    let exact_max = t.max_us * 1000;
    if exact_max > threshold_ns || !events {
        max = max.max(exact_max);
        min = min.min(exact_max);
    }
    let buckets: Vec<(u16, u64)> = h.buckets().map(|(i, n)| (i as u16, n)).collect();
    let parts: Vec<&[(u16, u64)]> = if buckets.is_empty() {
        vec![&[]]
    } else {
        buckets.chunks(BLOCK).collect()
    };
    let last_part = parts.len() - 1;
    let last = (min.min(max), max, sum.min(u64::MAX as u128) as u64, 0);
    parts
        .into_iter()
        .enumerate()
        .map(|(k, part)| {
            let mut b = heapless::Vec::new();
            let _ = b.extend_from_slice(part);
            HistogramPart {
                core,
                metric,
                events,
                buckets: b,
                last: (k == last_part).then_some(last),
            }
        })
        .collect()
}

/// What [`to_cyclictest_json`] writes a run from.
pub struct Export<'a> {
    /// Command line to record (`tickscope ...`).
    pub cmdline: &'a str,
    /// tickscope's version.
    pub version: &'a str,
    /// Start time, as in run.json.
    pub start_time: &'a str,
    /// Exit status of the run.
    pub status: u8,
    /// Kernel release, if a kernel ran.
    pub kernel: Option<&'a str>,
    /// PREEMPT_RT, when known.
    pub realtime: Option<bool>,
    /// Machine (`aarch64`) and board.
    pub board: &'a str,
    /// Threads (one per measured CPU).
    pub threads: Vec<Thread>,
}

/// Our run in cyclictest's `--json=` layout (file_version 1, as rt-tests 2.x writes it, including
/// its `cmdline:` and `rt_test_version:` keys), so readers of cyclictest files read it.
pub fn to_cyclictest_json(e: &Export) -> Value {
    let mut threads = serde_json::Map::new();
    for (i, t) in e.threads.iter().enumerate() {
        let hist: serde_json::Map<String, Value> = t
            .histogram
            .iter()
            .map(|(us, n)| (us.to_string(), json!(n)))
            .collect();
        threads.insert(
            i.to_string(),
            json!({
                "histogram": hist,
                "cycles": t.cycles,
                "min": t.min_us,
                "max": t.max_us,
                "avg": (t.avg_us * 100.0).round() / 100.0,
                "cpu": t.cpu.unwrap_or(0),
                "node": 0,
            }),
        );
    }
    json!({
        "file_version": 1,
        "cmdline:": e.cmdline,
        "rt_test_version:": format!("tickscope {}", e.version),
        "start_time": e.start_time,
        "end_time": e.start_time,
        "return_code": e.status,
        "sysinfo": {
            "sysname": if e.kernel.is_some() { "Linux" } else { "none (bare metal)" },
            "nodename": e.board,
            "release": e.kernel.unwrap_or(""),
            "version": "",
            "machine": "aarch64",
            "realtime": e.realtime.map(|r| r as u8).unwrap_or(0),
        },
        "num_threads": e.threads.len(),
        "resolution_in_ns": 1000,
        "thread": threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As rt-tests 2.4 writes it (`cmdline:` included), two non-zero buckets.
    const CYCLICTEST: &str = r##"{
  "file_version": 1,
  "cmdline:": "/usr/bin/cyclictest --mlockall --priority=99 --interval=1000 --threads=1 --affinity=3 --duration=2 --histogram=10000 --quiet --json=/tmp/cyclictest.json",
  "rt_test_version:": "2.40",
  "start_time": "Thu, 01 Jan 1970 00:00:05 +0000",
  "end_time": "Thu, 01 Jan 1970 00:00:07 +0000",
  "return_code": 0,
  "sysinfo": {
    "sysname": "Linux",
    "nodename": "(none)",
    "release": "6.1.0-41-rt-arm64",
    "version": "#1 SMP PREEMPT_RT Debian 6.1.158-1",
    "machine": "aarch64",
    "realtime": 1
  },
  "num_threads": 1,
  "resolution_in_ns": 0,
  "thread": {
    "0": {
      "histogram": {
        "7": 1990,
        "31": 10
      },
      "cycles": 2000,
      "min": 7,
      "max": 31,
      "avg": 7.12,
      "cpu": 3,
      "node": 0
    }
  }
}"##;

    #[test]
    fn cyclictest_json_reads_with_its_misspelt_keys() {
        let r = parse_json(CYCLICTEST, None).unwrap();
        assert_eq!(r.tool, PeerTool::Cyclictest);
        assert_eq!(r.version.as_deref(), Some("2.40"));
        assert_eq!(r.realtime, Some(true));
        assert_eq!(r.duration_s, Some(2.0));
        assert_eq!(r.interval_us, Some(1000));
        let t = &r.threads[0];
        assert_eq!(
            (t.cpu, t.cycles, t.min_us, t.max_us),
            (Some(3), 2000, 7, 31)
        );
        assert_eq!(t.quantile_us(99, 100), Some(7));
        assert_eq!(t.quantile_us(999, 1000), Some(31));
        assert_eq!(t.at_or_above(10), Some(10));
    }

    #[test]
    fn our_export_reads_back_with_the_same_reader() {
        let r = parse_json(CYCLICTEST, None).unwrap();
        let v = to_cyclictest_json(&Export {
            cmdline: "tickscope measure",
            version: "0.1.0",
            start_time: "2026-11-27T00:00:00Z",
            status: 0,
            kernel: Some("6.1.0-41-rt-arm64"),
            realtime: Some(true),
            board: "qemu-virt",
            threads: r.threads.clone(),
        });
        let back = parse_json(&v.to_string(), None).unwrap();
        assert_eq!(back.threads[0].histogram, r.threads[0].histogram);
        assert_eq!(back.threads[0].max_us, 31);
        assert_eq!(back.realtime, Some(true));
        assert_eq!(back.tool, PeerTool::Cyclictest);
    }

    #[test]
    fn cyclictest_histogram_output_reads_per_thread() {
        let text = "# /dev/cpu_dma_latency set to 0us\n\
                    000000 000000\t000000\n000007 001990\t000005\n000031 000010\t000000\n\
                    # Total: 000002000 000000005\n# Min Latencies: 00007 00007\n\
                    # Avg Latencies: 00007 00007\n# Max Latencies: 00031 00040\n\
                    # Histogram Overflows: 00000 00001\n";
        let r = parse_cyclictest_histogram(text).unwrap();
        assert_eq!(r.threads.len(), 2);
        assert_eq!(r.threads[0].max_us, 31);
        assert_eq!(r.threads[0].cycles, 2000);
        assert_eq!(r.threads[1].overflow, 1);
        assert_eq!(r.threads[1].max_us, 40);
        assert!(parse_cyclictest_histogram("hello\n").is_err());
    }

    #[test]
    fn oslat_text_reads_buckets_and_maximum() {
        let text = "oslat V 2.40\nTotal runtime: \t\t2 seconds\n\n         Core:\t 3\n     \
                    CPU Freq:\t 62 (Mhz)\n    001 (us):\t 123456\n    002 (us):\t 12\n    \
                    041 (us):\t 1\n      Minimum:\t 1 (us)\n      Average:\t 1.000 (us)\n      \
                    Maximum:\t 41 (us)\n      Max-Min:\t 40 (us)\n     Duration:\t 2.001 (sec)\n";
        let r = parse_oslat_text(text).unwrap();
        let t = &r.threads[0];
        // oslat's `041 (us)` and `Maximum: 41` are a gap in [40, 41) us.
        assert_eq!((t.cpu, t.max_us, t.cycles), (Some(3), 40, 123469));
        assert_eq!(r.duration_s, Some(2.001));
        assert_eq!(t.at_or_above(1), Some(13));
        assert_eq!(t.quantile_us(50, 100), Some(0));
        assert!(parse_any(b"random bytes").is_none());
    }
}
