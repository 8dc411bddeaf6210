//! Analysis without an emulator: a recorded capture's summary equals its golden file, and
//! synthetic captures built here, whose every figure is known by construction, give exactly
//! those figures, whole or cut short.

mod common;
use common::*;

use tickscope_core::config::{Config, InjectTick, Mode, TimerChoice};
use tickscope_core::wire::msg::{
    Attribution, Block, CoreStatus, GapCounts, IrqKind, IrqSpan, Method, NoiseEvent, RunHeader,
    Source, Trailer, Window,
};
use tickscope_core::wire::{Encoder, FORMAT_VERSION, Message};

/// 62.5 MHz: one tick is 16 ns.
const HZ: u64 = 62_500_000;
const START: u64 = 1_000_000;
/// 4 ms at 62.5 MHz: the injected tick's period.
const PERIOD: u64 = 250_000;
/// A 10 µs tick handler taken 2 ticks after the loop's read and returning 2 before the next:
/// the gap is 630 ticks (10 080 ns), the handler's span 626 (10 016 ns).
const GAP: u64 = 630;
const SPAN: u64 = 626;

fn header(seconds: u64) -> Message {
    Message::Header(RunHeader {
        format: FORMAT_VERSION as u16,
        source: Source::Firmware,
        board: heapless::String::try_from("synthetic").unwrap(),
        midr: 0,
        el: 1,
        boot_el: 1,
        gic: 2,
        counter_hz: HZ,
        reset_ticks: 0,
        config: Config {
            mode: Mode::Noise,
            duration_ns: seconds * 1_000_000_000,
            icount: true,
            inject: Some(InjectTick {
                hz: 250,
                duration_ns: 10_000,
            }),
            ..Config::default()
        },
        boot_core: 0,
        timer: TimerChoice::Virtual,
        pmu: false,
        reduced: false,
        revision: heapless::String::new(),
        kernel: heapless::String::new(),
        cmdline: heapless::String::new(),
    })
}

/// A noise window of `seconds` with the 250 Hz tick: the messages up to `upto` (ticks after
/// the start), each second's events followed by a checkpoint, and the end only if `finish`.
fn noise_capture(seconds: u64, upto: u64, finish: bool) -> Vec<u8> {
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    let mut send = |m: Message| out.extend_from_slice(enc.encode(&m).unwrap());
    send(header(seconds));
    let end = START + seconds * HZ;
    send(Message::Window(Window {
        core: 3,
        start: START,
        end,
        threshold: 62,
    }));
    send(Message::Attribution(Attribution {
        core: 3,
        method: Method::Firmware,
        probe: 0,
        lost: 0,
        detail: heapless::String::new(),
        clock: [(0, 0); 2],
    }));
    let status = |upto: u64, events: u64| CoreStatus {
        core: 3,
        // Ten-tick quiet gaps fill the window but for the events.
        samples: events + (upto - events * GAP) / 10,
        window_start: START,
        window_end: START + upto,
        ..CoreStatus::default()
    };
    let mut events = 0;
    for second in 0..seconds {
        if second * HZ >= upto {
            break;
        }
        let mut noise: Vec<NoiseEvent> = Vec::new();
        let mut irqs: Vec<IrqSpan> = Vec::new();
        // Ticks at k periods after the start (k >= 1) that fall in this second.
        let mut k = (second * HZ).div_ceil(PERIOD).max(1);
        while k * PERIOD < ((second + 1) * HZ).min(upto) {
            let at = START + k * PERIOD;
            noise.push(NoiseEvent {
                start: at,
                duration: GAP as u32,
                counters: 0,
            });
            irqs.push(IrqSpan {
                intid: 27,
                kind: IrqKind::Tick,
                entry: at + 2,
                span: SPAN as u32,
                late: 2,
                stolen: 0,
            });
            k += 1;
        }
        events += noise.len() as u64;
        for chunk in noise.chunks(32) {
            send(Message::NoiseEvents(Block {
                core: 3,
                items: heapless::Vec::from_slice(chunk).unwrap(),
            }));
        }
        for chunk in irqs.chunks(32) {
            send(Message::Irqs(Block {
                core: 3,
                items: heapless::Vec::from_slice(chunk).unwrap(),
            }));
        }
        let covered = ((second + 1) * HZ).min(upto);
        if covered == (second + 1) * HZ && !(finish && second + 1 == seconds) {
            send(Message::Checkpoint(status(covered, events)));
        }
    }
    if finish {
        let total = seconds * HZ;
        send(Message::Gaps(GapCounts {
            core: 3,
            counts: heapless::Vec::from_slice(&[(10, (total - events * GAP) / 10)]).unwrap(),
        }));
        send(Message::CoreStatus(status(total, events)));
        send(Message::End(Trailer {
            status: 0,
            cores_online: 4,
            at: end,
        }));
    }
    out
}

fn decode(bytes: &[u8]) -> (i32, serde_json::Value) {
    let d = tmp();
    let file = d.path().join("synthetic.capture");
    std::fs::write(&file, bytes).unwrap();
    let r = tickscope(&["decode", "--json", &file.display().to_string()]);
    (r.status, r.json())
}

#[test]
fn the_synthetic_tick_gives_its_known_figures_exactly() {
    let (status, j) = decode(&noise_capture(2, 2 * HZ, true));
    assert_eq!(status, 0, "{j:#}");
    let s = &j["summary"];
    // Ticks at start + 4 ms ... + 1996 ms: 499 in 2 s.
    assert_eq!(num(s, "os_noise.events"), 499.0, "{s:#}");
    assert_eq!(num(s, "os_noise.events_per_s"), 249.5);
    assert_eq!(
        num(s, "hw_noise.events"),
        0.0,
        "2 ticks either side is below the threshold"
    );
    // The OS part is the handler's span plus its untraced exception entry and return (the
    // smallest lead and tail seen, 2 ticks each: the same rule as a kernel handler's), which
    // here is the whole gap it made: the tick's cost.
    assert_eq!(num(s, "os_noise.event_ns.max"), (GAP * 16) as f64);
    assert_eq!(num(s, "tick_os_ns"), (GAP * 16) as f64);
    assert_eq!(num(s, "tick_cost_ns"), (GAP * 16) as f64);
    assert_eq!(num(s, "irq_overhead_ns"), (GAP * 16) as f64 - 10_000.0);
    assert_eq!(num(s, "events"), 499.0);
    assert_eq!(
        num(s, "samples"),
        499.0 + ((2 * HZ - 499 * GAP) / 10) as f64
    );
    // The loop's own cost: its 10 ticks (160 ns), the ticks' gaps left out; the window per
    // iteration, gaps included, is more.
    assert_eq!(num(s, "loop_ns"), 160.0, "{s:#}");
    assert!(num(s, "loop_ns_per_iteration") > 160.0, "{s:#}");
    assert!(s["partial"].is_null(), "{s:#}");
    let causes = s["causes"].as_array().unwrap();
    assert_eq!(causes[0]["name"], "injected tick (INTID 27)");
    assert_eq!(causes[0]["events"], 499);
    assert_eq!(causes[0]["total_ns"], 499 * GAP * 16);
    assert_eq!(
        causes[0]["entry_exit_ns"],
        serde_json::json!([(GAP - SPAN) / 2 * 16, (GAP - SPAN) / 2 * 16])
    );
}

#[test]
fn a_capture_cut_short_keeps_its_last_checkpoint() {
    // Stopped 2.5 s into a 4 s window: checkpoints at 1 s and 2 s arrived, the rest did not.
    let (status, j) = decode(&noise_capture(4, 5 * HZ / 2, false));
    assert_ne!(
        status, 0,
        "a capture without its end is not a success: {j:#}"
    );
    let s = &j["summary"];
    // Events after the last checkpoint (2.0-2.5 s) arrived too and are kept: 499 up to 2 s,
    // 125 more; the rates are per second they cover (to the last one's end), not per
    // checkpointed second (which gave 312/s for a 250 Hz tick).
    let rate = |v: f64| (v * 1e6).round() / 1e6;
    let covered = (624 * HZ / 250 + GAP) as f64 / HZ as f64;
    assert_eq!(num(s, "partial.covered_s"), rate(covered), "{s:#}");
    assert_eq!(num(s, "partial.window_s"), 4.0);
    assert_eq!(num(s, "duration_s"), rate(covered));
    assert_eq!(num(s, "os_noise.events"), 624.0, "{s:#}");
    assert_eq!(num(s, "events_per_s"), rate(624.0 / covered), "{s:#}");
    assert_eq!(
        num(s, "os_noise.events_per_s"),
        rate(624.0 / covered),
        "{s:#}"
    );
    assert!((249.0..=250.0).contains(&num(s, "events_per_s")), "{s:#}");
    // The loop's iterations are the checkpoint's, over the checkpoint's 2 s.
    assert_eq!(
        num(s, "samples"),
        499.0 + ((2 * HZ - 499 * GAP) / 10) as f64
    );
    assert_eq!(
        num(s, "loop_ns_per_iteration"),
        rate(2e9 / (499.0 + ((2 * HZ - 499 * GAP) / 10) as f64)),
        "{s:#}"
    );
}

/// The recorded firmware capture (tickscope-core/tests/data/timer-tick.capture) summarises to
/// exactly its golden file (`TICKSCOPE_BLESS=1` rewrites it after a deliberate change).
#[test]
fn the_recorded_capture_summary_is_golden() {
    let capture = root().join("tickscope-core/tests/data/timer-tick.capture");
    let r = tickscope(&["decode", "--json", &capture.display().to_string()]);
    r.expect_status(0);
    let mut j = r.json();
    j["file"] = serde_json::Value::Null;
    let text = serde_json::to_string_pretty(&j["summary"]).unwrap() + "\n";
    let golden = root().join("host/tests/data/timer-tick.summary.json");
    if std::env::var_os("TICKSCOPE_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &text).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        text,
        want,
        "{} differs (TICKSCOPE_BLESS=1 rewrites it)",
        golden.display()
    );
}
