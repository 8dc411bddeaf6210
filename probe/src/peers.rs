//! Peers: after its own window the probe runs rt-tests' oslat and cyclictest on the same CPU for
//! the same duration, and ships what they wrote (JSON file and text) with the CPU's interrupts
//! over each one's run, so the host can set their figures beside ours from the same VM.

use std::process::Command;

use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{
    InterruptCounts, PEER_CHUNK, PeerChunk, PeerRun, PeerStream, PeerTool,
};

use crate::{Output, hstring, irqs, read, sys};

/// Where the initramfs (or the board's system) keeps the tools.
const BIN: [&str; 2] = ["/usr/bin", "/usr/sbin"];

/// Parses `--peers oslat,cyclictest`.
pub fn parse(list: &str) -> Result<Vec<PeerTool>, String> {
    let mut v = Vec::new();
    for name in list.split(',').filter(|s| !s.is_empty()) {
        let t = match name {
            "oslat" => PeerTool::Oslat,
            "cyclictest" => PeerTool::Cyclictest,
            _ => return Err(format!("--peers {name}: expected oslat and/or cyclictest")),
        };
        if !v.contains(&t) {
            v.push(t);
        }
    }
    Ok(v)
}

/// What a peer run is given: the probe's CPU, window, period and priority.
pub struct Setup {
    /// The measured CPU.
    pub cpu: usize,
    /// Duration, ns (rounded up to whole seconds: the tools take seconds).
    pub duration_ns: u64,
    /// cyclictest's interval, ns.
    pub period_ns: u64,
    /// SCHED_FIFO priority.
    pub priority: i32,
}

fn find(tool: PeerTool) -> Option<String> {
    find_tool(tool.name())
}

/// Where the tool `name` is installed, if it is (`/usr/bin`, `/usr/sbin`).
pub fn find_tool(name: &str) -> Option<String> {
    BIN.iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).exists())
}

/// The tool's arguments (the JSON file is `json`).
pub fn args(tool: PeerTool, s: &Setup, json: &str) -> Vec<String> {
    let secs = s.duration_ns.div_ceil(1_000_000_000).max(1);
    match tool {
        // 1024 one-microsecond buckets (oslat's most): a gap of a millisecond or more lands in
        // the last one, and its exact maximum is reported apart.
        PeerTool::Oslat => vec![
            format!("--cpu-list={}", s.cpu),
            format!("--duration={secs}"),
            format!("--rtprio={}", s.priority),
            "--bucket-size=1024".into(),
            "--zero-omit".into(),
            "--quiet".into(),
            format!("--json={json}"),
        ],
        // cyclictest's default case on one CPU: one thread, clock_nanosleep, mlockall; a
        // histogram up to 10 ms in microseconds so percentiles can be derived.
        PeerTool::Cyclictest => vec![
            "--mlockall".into(),
            format!("--priority={}", s.priority),
            format!("--interval={}", (s.period_ns / 1000).max(1)),
            "--threads=1".into(),
            format!("--affinity={}", s.cpu),
            format!("--duration={secs}"),
            "--histogram=10000".into(),
            "--quiet".into(),
            format!("--json={json}"),
        ],
    }
}

fn ship(out: &mut Output, tool: PeerTool, stream: PeerStream, bytes: &[u8]) {
    for piece in bytes.chunks(PEER_CHUNK) {
        let mut data = heapless::Vec::new();
        let _ = data.extend_from_slice(piece);
        out.send(&Message::Peer(PeerChunk { tool, stream, data }));
    }
}

/// Says a tool is missing, and ships its run as one that never started.
fn not_installed(out: &mut Output, tool: PeerTool, s: &Setup) {
    ship(
        out,
        tool,
        PeerStream::Text,
        format!("tickscope-probe: {} is not installed", tool.name()).as_bytes(),
    );
    let none = InterruptCounts {
        core: s.cpu as u16,
        interval_ns: 0,
        sources: heapless::Vec::new(),
    };
    send_run(out, tool, String::new(), i32::MIN, none, 0);
}

/// The interrupts `cpu` took between two reads of `/proc/interrupts`, the twelve largest: the
/// run's message must fit a frame with the command line.
fn irq_sources(
    before: &str,
    after: &str,
    cpu: usize,
) -> heapless::Vec<(heapless::String<32>, u64), 24> {
    let (before, after) = (irqs::parse(before, cpu), irqs::parse(after, cpu));
    let mut sources = heapless::Vec::new();
    for (name, n) in irqs::delta(&before, &after).into_iter().take(12) {
        let _ = sources.push((hstring(&name), n));
    }
    sources
}

/// Runs each tool in turn and ships its output and run.
pub fn run(out: &mut Output, tools: &[PeerTool], s: &Setup) {
    let _ = std::fs::create_dir_all("/tmp");
    for &tool in tools {
        let json = format!("/tmp/{}.json", tool.name());
        let _ = std::fs::remove_file(&json);
        let args = args(tool, s, &json);
        let Some(bin) = find(tool) else {
            not_installed(out, tool, s);
            continue;
        };
        let command = format!("{bin} {}", args.join(" "));
        out.text(&format!("tickscope-probe: running {command}"));
        let before_text = read("/proc/interrupts");
        let idle_before = idle_ns(s.cpu);
        let t0 = sys::monotonic_ns();
        let result = Command::new(&bin).args(&args).output();
        let interval_ns = sys::monotonic_ns() - t0;
        let idle_after = idle_ns(s.cpu);
        let after_text = read("/proc/interrupts");
        let busy_ns = match (idle_before, idle_after) {
            (Some(a), Some(b)) => interval_ns.saturating_sub(b.saturating_sub(a)),
            _ => 0,
        };
        let status = match &result {
            Ok(o) => o.status.code().unwrap_or_else(|| {
                -std::os::unix::process::ExitStatusExt::signal(&o.status).unwrap_or(0)
            }),
            Err(_) => i32::MIN,
        };
        if let Ok(j) = std::fs::read(&json) {
            ship(out, tool, PeerStream::Json, &j);
        }
        match &result {
            Ok(o) => {
                ship(out, tool, PeerStream::Text, &o.stdout);
                ship(out, tool, PeerStream::Text, &o.stderr);
            }
            Err(e) => ship(
                out,
                tool,
                PeerStream::Text,
                format!("tickscope-probe: cannot run {bin}: {e}").as_bytes(),
            ),
        }
        let sources = irq_sources(&before_text, &after_text, s.cpu);
        send_run(
            out,
            tool,
            command,
            status,
            InterruptCounts {
                core: s.cpu as u16,
                interval_ns,
                sources,
            },
            busy_ns,
        );
    }
}

/// Idle (and I/O wait) time of `cpu` so far, ns, from `/proc/stat` (in USER_HZ = 100 ticks per
/// second, the kernel's fixed unit there on arm64).
pub fn idle_ns(cpu: usize) -> Option<u64> {
    let stat = read("/proc/stat");
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map_while(|x| x.parse().ok())
        .collect();
    Some((f.get(3)? + f.get(4).copied().unwrap_or(0)) * 10_000_000)
}

fn send_run(
    out: &mut Output,
    tool: PeerTool,
    command: String,
    status: i32,
    i: InterruptCounts,
    busy_ns: u64,
) {
    out.send(&Message::PeerDone(PeerRun {
        tool,
        command: hstring(&command),
        status,
        interrupts: i,
        busy_ns,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_refuse_unknown_tools() {
        assert_eq!(
            parse("oslat,cyclictest,oslat").unwrap(),
            [PeerTool::Oslat, PeerTool::Cyclictest]
        );
        assert!(parse("hackbench").unwrap_err().contains("hackbench"));
    }

    #[test]
    fn tools_get_the_probe_cpu_duration_and_priority() {
        let s = Setup {
            cpu: 3,
            duration_ns: 1_500_000_000,
            period_ns: 1_000_000,
            priority: 99,
        };
        let c = args(PeerTool::Cyclictest, &s, "/tmp/c.json").join(" ");
        for want in [
            "--affinity=3",
            "--duration=2",
            "--interval=1000",
            "--priority=99",
            "--json=/tmp/c.json",
        ] {
            assert!(c.contains(want), "{want} in {c}");
        }
        let o = args(PeerTool::Oslat, &s, "/tmp/o.json").join(" ");
        for want in ["--cpu-list=3", "--duration=2", "--rtprio=99"] {
            assert!(o.contains(want), "{want} in {o}");
        }
    }
}
