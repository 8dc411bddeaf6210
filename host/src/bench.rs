//! The benchmarks: every speed and size figure, each with its unit and how it was measured.
//! Figures under `-icount` are exact (instruction counts, virtual time) and repeat bit for bit;
//! host figures (decode throughput, wall times) depend on the machine and say so.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::ValueEnum;
use serde::Serialize;
use tickscope_core::config::{Config, Mode, TimerChoice};
use tickscope_core::stats::Accumulator;
use tickscope_core::units::ticks_to_ns;
use tickscope_core::wire::msg::{
    BLOCK, Block, CoreStatus, RunHeader, Source, TimerSample, Trailer, Window,
};
use tickscope_core::wire::{self, MAX_BODY, MAX_WIRE, Message};

use crate::analysis::Analysis;
use crate::analysis::summary::round6;
use crate::compare::{self, Settings};
use crate::guest::{bare, linux};
use crate::kernel::KernelMode;
use crate::machine::MachineSpec;
use crate::pipeline::{self, Output, Request, Run};
use crate::record::Policy;
use crate::rundir::RunDir;
use crate::{decode, firmware, status, workspace};

/// Which figures.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    /// Everything.
    All,
    /// Only the exact figures under -icount (and sizes): fast, and identical every time.
    Icount,
    /// Only the firmware image sizes (no emulator).
    Sizes,
    /// Only the host figures (decode, statistics, report).
    Host,
    /// Only the end-to-end wall times (the comparison, the probe's loop in Linux).
    EndToEnd,
}

/// One figure: value, unit, how it was measured, whether it depends on the host machine.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The number.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
    /// How it was measured.
    pub how: String,
    /// `icount` (exact), `size` (exact), `ratio` (a host figure over a reference measured in the
    /// same run: comparable across machines) or `host` (depends on this machine).
    pub kind: &'static str,
}

/// Figures by name.
pub type Figures = BTreeMap<String, Figure>;

fn put(
    f: &mut Figures,
    key: &str,
    value: f64,
    unit: &'static str,
    kind: &'static str,
    how: impl Into<String>,
) {
    f.insert(
        key.to_string(),
        Figure {
            value: round6(value),
            unit,
            how: how.into(),
            kind,
        },
    );
}

fn machine(el: u8, gic: u8, smp: u16, icount: bool) -> Result<MachineSpec> {
    MachineSpec::new(&workspace::board("qemu-virt")?, el, gic, smp, None, icount)
}

/// One bare-metal run into a scratch directory under target/bench.
fn bare_run(name: &str, machine: MachineSpec, config: Config, plots: bool) -> Result<Run> {
    let req = Request::Bare(bare::Request {
        machine,
        config,
        timeout: None,
        quiet: true,
    });
    pipeline::run(
        &req,
        &Output {
            label: name.into(),
            out: Some(tmpdir(name)?),
            policy: Policy::default(),
            plots,
            // A scratch directory of the bench's own, emptied first.
            replace: true,
        },
    )
}

fn tmpdir(name: &str) -> Result<PathBuf> {
    let d = workspace::root()?.join("target").join("bench").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn size_figures(f: &mut Figures) -> Result<()> {
    for board in ["qemu-virt", "thunderx-cn88xx"] {
        let img = firmware::ensure_built(board, true)?;
        let s = firmware::sizes(&img.elf)?;
        put(
            f,
            &format!("firmware.{board}.image_bytes"),
            s.image_bytes as f64,
            "bytes",
            "size",
            "loaded sections of the release image (text+rodata+data)",
        );
        put(
            f,
            &format!("firmware.{board}.static_ram_bytes"),
            s.static_ram_bytes as f64,
            "bytes",
            "size",
            "BSS + per-core stacks + rings, not loaded",
        );
    }
    Ok(())
}

fn icount_figures(f: &mut Figures) -> Result<()> {
    // Interrupt latency floor: timer fire to the first timestamp in the handler.
    for (el, gic) in [(1u8, 2u8), (1, 3), (2, 2), (2, 3)] {
        irq_figures(f, el, gic)?;
    }
    // Noise loop cost and virtual boot times.
    let m = machine(1, 2, 4, true)?;
    let cfg = Config {
        mode: Mode::Noise,
        smp: 4,
        gic: 2,
        el: 1,
        duration_ns: 200_000_000,
        icount: true,
        ..Config::default()
    };
    let r = bare_run("noise", m, cfg, false)?;
    let a = &r.analysis;
    let s = &r.record.summary;
    let window_ns = s.duration_s * 1e9;
    put(
        f,
        "noise_loop.instructions_per_iteration",
        window_ns / s.samples.max(1) as f64,
        "instructions",
        "icount",
        "window / loop iterations on the measured core, -icount shift=0, other cores in WFI",
    );
    boot_figures(f, a);
    Ok(())
}

/// The interrupt latency floor and entry cost at one EL and GIC version.
fn irq_figures(f: &mut Figures, el: u8, gic: u8) -> Result<()> {
    let m = machine(el, gic, 2, true)?;
    let cfg = Config {
        mode: Mode::Timer,
        el,
        smp: 2,
        gic,
        duration_ns: 100_000_000,
        period_ns: 1_000_000,
        icount: true,
        timer: TimerChoice::Auto,
        ..Config::default()
    };
    let r = bare_run(&format!("irq-el{el}-gic{gic}"), m, cfg, false)?;
    let s = &r.record.summary;
    let key = format!("irq_latency.el{el}_gicv{gic}");
    let instructions = s.latency_cycles.map(|q| q.p50 as f64).unwrap_or(f64::NAN);
    put(
        f,
        &format!("{key}.instructions"),
        instructions,
        "instructions",
        "icount",
        "the interrupt latency floor: instructions executed from the timer deadline to the exception vector's cycle timestamp (its 4th instruction), median of 99 wake-ups, -icount shift=0 (1 instruction = 1 ns = 1 cycle). The deadline's cycle count comes from a calibration against the counter's edge that is measured, not assumed (see .calibration_uncertainty): a lower bound. QEMU models no exception-entry latency: on silicon the pipeline drain and vector fetch add to this",
    );
    put(
        f,
        &format!("{key}.calibration_uncertainty"),
        s.latency_cycles_uncertainty
            .map(|u| u as f64)
            .unwrap_or(f64::NAN),
        "instructions",
        "icount",
        "how far below the true floor .instructions may be: 32 readings of a counter edge, each started one instruction later than the last (every phase of the polling loop) and bracketed by cycle reads before the last read of the old value and after the first read of the new one; the tightest upper and lower bounds differ by this",
    );
    put(
        f,
        &format!("{key}.entry_instructions"),
        s.entry_cycles.map(|q| q.p50 as f64).unwrap_or(f64::NAN),
        "instructions",
        "icount",
        "the interrupt entry cost: PMCCNTR from the vector's first timestamp to the timer handler's body (register saves, acknowledge, dispatch), median",
    );
    put(
        f,
        &format!("{key}.counter_ns"),
        s.latency_ns.p50 as f64,
        "ns",
        "icount",
        "CNTVCT deadline to the vector's timestamp, median; quantised to the 62.5 MHz counter (16 ns)",
    );
    Ok(())
}

/// Virtual boot times of the noise run: to all cores online, to the window.
fn boot_figures(f: &mut Figures, a: &Analysis) {
    let hz = a.hz();
    if let Some(h) = &a.header {
        let reset = h.reset_ticks;
        let online = a.online.values().map(|c| c.at).max().unwrap_or(reset);
        let first = a
            .cores
            .values()
            .filter_map(|c| c.window.map(|w| w.start))
            .min()
            .unwrap_or(reset);
        put(
            f,
            "boot.virtual_ns_to_all_cores_online",
            ticks_to_ns(online.saturating_sub(reset), hz) as f64,
            "ns",
            "icount",
            "counter at the boot core's first Rust instruction to the last CoreOnline report (4 cores)",
        );
        put(
            f,
            "boot.virtual_ns_to_first_sample",
            ticks_to_ns(first.saturating_sub(reset), hz) as f64,
            "ns",
            "icount",
            "same start to the opening of the measurement window",
        );
    }
}

/// The header of a synthetic capture: firmware at EL1, GICv2, a 62.5 MHz counter.
fn synthetic_header(config: Config) -> RunHeader {
    RunHeader {
        format: wire::FORMAT_VERSION as u16,
        source: Source::Firmware,
        board: heapless::String::try_from("synthetic").unwrap(),
        midr: 0,
        el: 1,
        boot_el: 1,
        gic: 2,
        counter_hz: 62_500_000,
        reset_ticks: 0,
        config,
        boot_core: 0,
        timer: TimerChoice::Virtual,
        pmu: true,
        reduced: false,
        revision: heapless::String::new(),
        kernel: heapless::String::new(),
        cmdline: heapless::String::new(),
    }
}

/// A synthetic timer-mode capture of `n` samples with realistic values.
pub fn synthetic_capture(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity((n * 9) as usize);
    let mut scratch = [0u8; MAX_BODY];
    let mut frame = [0u8; MAX_WIRE];
    let mut seq = 0u32;
    let mut send = |m: &Message, out: &mut Vec<u8>| {
        out.extend_from_slice(wire::encode_frame(seq, m, &mut scratch, &mut frame).expect("fits"));
        seq += 1;
    };
    let cfg = Config {
        mode: Mode::Timer,
        duration_ns: n * 100_000,
        period_ns: 100_000,
        ..Config::default()
    };
    send(&Message::Header(synthetic_header(cfg)), &mut out);
    send(
        &Message::Window(Window {
            core: 3,
            start: 1000,
            end: 1000 + n * 6250,
            threshold: 62,
        }),
        &mut out,
    );
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut items: heapless::Vec<TimerSample, BLOCK> = heapless::Vec::new();
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let latency = 2 + (x % 4) as u32 + if x.is_multiple_of(1000) { 600 } else { 0 };
        let _ = items.push(TimerSample {
            deadline: 1000 + (i + 1) * 6250,
            latency,
            cycles: latency * 16 + (x % 16) as u32,
            entry: 40,
        });
        if items.is_full() {
            let mut items = std::mem::take(&mut items);
            wire::msg::delta_code(&mut items);
            send(&Message::TimerDeltas(Block { core: 3, items }), &mut out);
        }
    }
    if !items.is_empty() {
        wire::msg::delta_code(&mut items);
        send(&Message::TimerDeltas(Block { core: 3, items }), &mut out);
    }
    send(
        &Message::CoreStatus(CoreStatus {
            core: 3,
            samples: n,
            window_start: 1000,
            window_end: 1000 + n * 6250,
            ..CoreStatus::default()
        }),
        &mut out,
    );
    send(
        &Message::End(Trailer {
            status: 0,
            cores_online: 4,
            at: 1000 + n * 6250,
        }),
        &mut out,
    );
    out
}

/// Peak resident memory of a child process, sampled from /proc while it runs.
fn run_measuring_memory(cmd: &mut Command) -> Result<(Duration, u64, bool)> {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let cmdline_path = format!("/proc/{}/cmdline", child.id());
    let ours = std::fs::read(format!("/proc/{}/cmdline", std::process::id())).unwrap_or_default();
    let mut peak_kib = 0u64;
    let ok = loop {
        // Until the child has exec'd it shares this process's memory (vfork): its VmHWM then is
        // ours, not the command's.
        let started_command = std::fs::read(&cmdline_path).is_ok_and(|c| c != ours);
        if started_command
            && let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(v) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(v);
        }
        if let Some(s) = child.try_wait()? {
            break s.success();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ok((started.elapsed(), peak_kib * 1024, ok))
}

fn host_figures(f: &mut Figures, samples: u64) -> Result<()> {
    // Wire size per sample and what a UART sustains.
    let small = synthetic_capture(100_000);
    let per_sample = small.len() as f64 / 100_000.0;
    put(
        f,
        "wire.bytes_per_timer_sample",
        per_sample,
        "bytes",
        "size",
        "postcard + COBS + CRC framing of 32-sample blocks, synthetic timer samples",
    );
    for baud in [115_200u32, 921_600] {
        put(
            f,
            &format!("wire.uart_{baud}_samples_per_s"),
            baud as f64 / 10.0 / per_sample,
            "samples/s",
            "size",
            format!(
                "{baud} baud / 10 bits per byte / bytes per sample; above it the firmware reduces on the device"
            ),
        );
    }
    let cap = synthetic_capture(samples);
    decode_figures(f, &cap, samples)?;
    stats_figures(f, samples);
    report_figures(f, cap, samples)
}

/// Decode speed of `cap`, alone and as a ratio to a CRC pass over the same bytes.
fn decode_figures(f: &mut Figures, cap: &[u8], samples: u64) -> Result<()> {
    put(
        f,
        "wire.decode_capture_bytes",
        cap.len() as f64,
        "bytes",
        "size",
        format!("the synthetic capture the host figures decode: {samples} timer samples"),
    );
    // The reference: a CRC-32 pass over the same bytes, in the same process. A speed as a ratio
    // to it holds across machines that differ by their raw speed. Both are the best of three
    // rounds, taken in turn, so a burst of other work on the machine hits neither alone.
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let (mut crc_secs, mut secs) = (f64::MAX, f64::MAX);
    let (mut a, mut d) = (Analysis::default(), decode::Decoder::new(None)?);
    for _ in 0..3 {
        let started = Instant::now();
        let mut digest = crc.digest();
        for chunk in cap.chunks(1 << 20) {
            digest.update(chunk);
        }
        std::hint::black_box(digest.finalize());
        crc_secs = crc_secs.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        for _ in 0..slowdown("decode") {
            a = Analysis::default();
            d = decode::Decoder::new(None)?;
            for chunk in cap.chunks(1 << 20) {
                d.push(chunk, &mut a);
            }
        }
        secs = secs.min(started.elapsed().as_secs_f64());
    }
    let rep = d.finish();
    put(
        f,
        "host.reference_crc_mb_per_s",
        cap.len() as f64 / 1e6 / crc_secs,
        "MB/s",
        "host",
        "CRC-32 (the frames' own) over the same capture in one pass, best of 3: the reference the ratios divide by",
    );
    put(
        f,
        "host.decode_vs_crc",
        crc_secs / secs,
        "ratio",
        "ratio",
        "decode speed ÷ the CRC pass's speed over the same bytes (machine-independent within about ±20 %)",
    );
    anyhow::ensure!(
        rep.link.is_clean() && a.cores.values().map(|c| c.records).sum::<u64>() == samples,
        "synthetic decode lost data"
    );
    put(
        f,
        "host.decode_mb_per_s",
        cap.len() as f64 / 1e6 / secs,
        "MB/s",
        "host",
        format!(
            "deframe + CRC + postcard + statistics of a {} MB capture of {samples} timer samples, one core, best of 3 (perf, 2026-12: the statistics 60 % (the histogram's bucket index and its saturating count, half of it), our reader of timer blocks 12 %, deframing 4 % since memchr finds the delimiters (it was 19 %), the CRC 2 %; the CRC by table and the tick-to-ns divisions, now crc32fast and a multiply where the counter divides 10^9, had been 10 % and a third of the statistics; postcard's generic Message and its copies, now a reader of timer-delta blocks straight from the payload, 23 %; the value histogram's min, max, count and sum, now once per block, a fifth of the statistics; gathering the cycle figures into blocks as well measured slower, interleaved, and was left out)",
            cap.len() / 1_000_000
        ),
    );
    put(
        f,
        "host.decode_samples_per_s",
        samples as f64 / secs,
        "samples/s",
        "host",
        "same run",
    );
    Ok(())
}

/// The statistics' ingest speed alone.
fn stats_figures(f: &mut Figures, samples: u64) {
    let mut acc = Accumulator::new(1_000);
    let started = Instant::now();
    let mut x = 1u64;
    for i in 0..samples {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        acc.record(20 + (x >> 58), i * 100, 3);
    }
    std::hint::black_box(&acc);
    put(
        f,
        "host.stats_samples_per_s",
        samples as f64 / started.elapsed().as_secs_f64(),
        "samples/s",
        "host",
        "Accumulator::record (histogram, events, worst-N, per-second), one core",
    );
}

/// `tickscope report` on a run of `cap`, as a separate process: its wall time and peak memory.
fn report_figures(f: &mut Figures, cap: Vec<u8>, samples: u64) -> Result<()> {
    let dir = tmpdir("report-10m")?;
    std::fs::write(dir.join("capture.bin"), &cap)?;
    drop(cap);
    let mut a = Analysis::default();
    decode::decode_file(&dir.join("capture.bin"), None, &mut a)?;
    let s =
        crate::analysis::summary::summarize(&a, "synthetic", crate::machine::Emulation::Unknown, 0);
    let rd = RunDir { path: dir.clone() };
    rd.write_json("summary.json", &s)?;
    drop(a);
    let exe = std::env::current_exe()?;
    let (wall, peak, ok) = run_measuring_memory(
        Command::new(&exe)
            .arg("report")
            .arg(&dir)
            .arg("--out")
            .arg(dir.join("report")),
    )?;
    anyhow::ensure!(ok, "tickscope report failed on the synthetic run");
    put(
        f,
        "host.report_10m_seconds",
        wall.as_secs_f64(),
        "s",
        "host",
        format!(
            "`tickscope report` on a run of {samples} samples: decode, statistics, 6 plots, md + html"
        ),
    );
    put(
        f,
        "host.report_10m_peak_mib",
        peak as f64 / (1024.0 * 1024.0),
        "MiB",
        "host",
        "peak resident memory of that process (VmHWM; heaptrack, 2026-12: the plots are drawn in bands of 128 rows, which took a 2.7 MB RGB buffer off the peak; what grows now is the kept events and their splits (pieces copied out at their exact length: 170 to 150 bytes an event), 23.6 MiB at 100 M samples of this capture)",
    );
    put(
        f,
        "host.report_peak_bytes_per_sample",
        peak as f64 / samples.max(1) as f64,
        "bytes",
        "ratio",
        "that peak ÷ the samples (memory that does not grow with the run is a falling figure)",
    );
    Ok(())
}

/// How many times to repeat a benchmarked step: 1, or N from `TICKSCOPE_BENCH_SLOWDOWN=STEP:N`
/// (a deliberately slowed build, to prove `bench --check` catches it).
fn slowdown(step: &str) -> u32 {
    std::env::var("TICKSCOPE_BENCH_SLOWDOWN")
        .ok()
        .and_then(|v| {
            let (name, n) = v.split_once(':')?;
            (name == step).then(|| n.parse().ok()).flatten()
        })
        .unwrap_or(1)
        .max(1)
}

fn wall_figures(f: &mut Figures, compare_duration: u64) -> Result<()> {
    measure_wall_figures(f)?;
    // Linux probe loop cost in the VM, and the full comparison.
    let settings = Settings {
        machine: machine(1, 2, 4, true)?,
        el: 1,
        mode: Mode::Noise,
        cpu: 3,
        duration_ns: compare_duration,
        period_ns: 1_000_000,
        threshold_ns: 1_000,
        kernel: linux::KernelSource::Debian { version: None },
        kernels: vec![KernelMode::Generic, KernelMode::Tickless],
        attribution: linux::AttributionChoice::Auto,
        priority: None,
        peers: false,
        loads: vec![crate::load::Load::default()],
        settle_ns: 1_000_000_000,
        // No checkpoints: the probe's blind time is then only what recording its events costs.
        checkpoint_ns: 0,
        timeout: None,
        quiet: true,
    };
    let c = compare::run(&compare::Plan {
        // A scratch directory of the bench's own, emptied first.
        replace: true,
        ..compare::plan(&settings, Some(tmpdir("compare")?), Policy::default(), 3)
    })?;
    anyhow::ensure!(
        c.status == status::OK,
        "the comparison failed (status {})",
        c.status
    );
    compare_wall_figures(f, &c.wall, compare_duration);
    probe_loop_figures(f, &c, compare_duration);
    attribution_cost_figures(f, &settings, compare_duration)
}

/// `tickscope measure` end to end, under TCG and icount.
fn measure_wall_figures(f: &mut Figures) -> Result<()> {
    for icount in [false, true] {
        let m = machine(1, 2, 4, icount)?;
        let cfg = Config {
            mode: Mode::Noise,
            smp: 4,
            gic: 2,
            el: 1,
            duration_ns: 1_000_000_000,
            icount,
            ..Config::default()
        };
        let started = Instant::now();
        bare_run("e2e", m, cfg, true)?;
        let name = if icount { "icount" } else { "tcg" };
        put(
            f,
            &format!("e2e.measure_1s_{name}_wall_s"),
            started.elapsed().as_secs_f64(),
            "s",
            "host",
            format!(
                "`tickscope measure --mode noise --duration 1s{}`: boot, window, decode, plots",
                if icount { " --icount" } else { "" }
            ),
        );
    }
    Ok(())
}

/// Where `compare`'s wall time went.
fn compare_wall_figures(f: &mut Figures, t: &compare::Wall, compare_duration: u64) {
    let wall_how = format!(
        "`tickscope compare` with {} s per run (icount), built",
        compare_duration as f64 / 1e9
    );
    let rows: [(&str, f64, &'static str, &'static str, &str); 10] = [
        (
            "e2e.compare_guest_cpu_s",
            t.guest_cpu_s,
            "s",
            "host",
            "CPU seconds the comparison's guests used (QEMU, user + system, the kernel's account of waited-for children)",
        ),
        (
            "e2e.compare_runs_over_cpu_floor",
            t.runs_over_floor,
            "ratio",
            "ratio",
            "the runs' wall time over their CPU floor (guest CPU seconds / cores): 1.0 = every core busy with guests; comparable across machines",
        ),
        (
            "e2e.compare_guest_cpu_s_per_window_s",
            t.guest_cpu_s_per_window_s,
            "s/s",
            "ratio",
            "guest CPU seconds per second of measurement window (all runs): what a virtual second costs the host",
        ),
        ("e2e.compare_wall_s", t.total_s, "s", "host", &wall_how),
        (
            "e2e.compare_build_s",
            t.build_s,
            "s",
            "host",
            "of which building/fetching (firmware, probe, kernel; cached)",
        ),
        (
            "e2e.compare_runs_s",
            t.runs_s,
            "s",
            "host",
            "of which running the three guests in parallel, decoding and writing them",
        ),
        (
            "e2e.compare_report_s",
            t.report_s,
            "s",
            "host",
            "of which the comparison's report and plots",
        ),
        (
            "e2e.compare_linux_boot_s",
            t.linux_boot_s,
            "s",
            "host",
            "the guests' own time starting Linux from its snapshot until the probe spoke (both kernels)",
        ),
        (
            "e2e.compare_snapshot_s",
            t.snapshot_s,
            "s",
            "host",
            "the guests' own time making Linux snapshots not cached yet (0 when cached)",
        ),
        (
            "e2e.compare_guest_measure_s",
            t.measure_s,
            "s",
            "host",
            "the guests' own time measuring and shipping (all three runs, summed)",
        ),
    ];
    for (key, value, unit, kind, how) in rows {
        put(f, key, value, unit, kind, how);
    }
}

/// The Linux probe's loop in the comparison's Linux runs, against bare metal's.
fn probe_loop_figures(f: &mut Figures, c: &compare::Comparison, compare_duration: u64) {
    let bare_iter = c
        .runs
        .first()
        .map(|r| r.record.summary.samples as f64)
        .unwrap_or(0.0);
    for r in c.runs.iter().skip(1) {
        let s = &r.record.summary;
        let per_iter = compare_duration as f64 / s.samples.max(1) as f64;
        put(
            f,
            &format!("linux_probe.{}.ns_per_iteration", s.label),
            per_iter,
            "ns",
            "icount",
            "window / probe loop iterations under -icount (1 ns = 1 instruction), measured core of the Linux VM",
        );
        if bare_iter > 0.0 {
            put(
                f,
                &format!("linux_probe.{}.overhead_vs_bare_metal", s.label),
                bare_iter / s.samples.max(1) as f64,
                "ratio",
                "icount",
                "bare-metal iterations / probe iterations in the same window: >1 means the probe loop is slower",
            );
        }
        let events = s.events.max(1) as f64;
        put(
            f,
            &format!("linux_probe.{}.blind_ns_per_event", s.label),
            s.attributed.blind_ns as f64 / events,
            "ns",
            "icount",
            "time the probe's loop spent recording each event (not measuring), under -icount, checkpoints off",
        );
    }
}

/// What attribution costs the probe's loop.
fn attribution_cost_figures(
    f: &mut Figures,
    settings: &Settings,
    compare_duration: u64,
) -> Result<()> {
    // the generic kernel again with per-event counters
    // (read on each event) next to tracefs (nothing in the loop: the kernel traces, the host
    // joins), and with none.
    for choice in [
        linux::AttributionChoice::Counters,
        linux::AttributionChoice::None,
    ] {
        let name = choice.name();
        let req = Request::Linux(linux::Request {
            machine: settings.machine.clone(),
            kernel_mode: KernelMode::Generic,
            kernel: settings.kernel.clone(),
            mode: Mode::Noise,
            cpu: 3,
            duration_ns: compare_duration,
            period_ns: 1_000_000,
            threshold_ns: 1_000,
            settle_ns: settings.settle_ns,
            checkpoint_ns: 0,
            attribution: choice,
            priority: None,
            peers: false,
            load: crate::load::Load::default(),
            timeout: None,
            quiet: true,
        });
        let r = pipeline::run(
            &req,
            &Output {
                label: format!("generic-{name}"),
                out: Some(tmpdir(&format!("attribution-{name}"))?),
                policy: Policy::default(),
                plots: false,
                replace: true,
            },
        )?;
        let s = &r.record.summary;
        put(
            f,
            &format!("linux_probe.generic-{name}.ns_per_iteration"),
            compare_duration as f64 / s.samples.max(1) as f64,
            "ns",
            "icount",
            format!(
                "as linux_probe.generic.ns_per_iteration, attribution {name}: the loop's cost with it"
            ),
        );
        put(
            f,
            &format!("linux_probe.generic-{name}.blind_ns_per_event"),
            s.attributed.blind_ns as f64 / s.events.max(1) as f64,
            "ns",
            "icount",
            format!("as linux_probe.generic.blind_ns_per_event, attribution {name}"),
        );
    }
    Ok(())
}

/// Every figure of `only`.
pub fn figures(only: Only, samples: u64, compare_duration: u64) -> Result<Figures> {
    let mut f = Figures::new();
    if matches!(only, Only::All | Only::Icount | Only::Sizes) {
        size_figures(&mut f)?;
    }
    if matches!(only, Only::All | Only::Icount) {
        icount_figures(&mut f)?;
    }
    if matches!(only, Only::All | Only::Host) {
        host_figures(&mut f, samples)?;
    }
    if matches!(only, Only::All | Only::EndToEnd) {
        wall_figures(&mut f, compare_duration)?;
    }
    Ok(f)
}
