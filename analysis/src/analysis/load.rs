//! The load on the other CPUs (`--load`): what the run asked for, each instance's progress as
//! the probe counted it, and whether every CPU it was meant for worked through the window.

use serde::{Deserialize, Serialize};
use tickscope_core::wire::msg::LoadProgress;

use super::{Analysis, round6};

/// The load of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadSummary {
    /// What the run asked for: `hackbench`, `hackbench+memory`, `stress-ng:--cpu 1`, or
    /// `interference` (bare metal: the firmware's cores streaming over a shared buffer).
    pub asked: String,
    /// Each instance, one per load and CPU, as the probe counted it.
    pub instances: Vec<LoadInstance>,
    /// Every CPU but the measured ones ran every load through the window: its count grew over
    /// the window (for a tool that counts only at exit, its CPU was busy at least half of it),
    /// it had worked before, and it was still running at the end. `None`: nothing counts it
    /// (the firmware's interference).
    pub verified: Option<bool>,
    /// Why it is not verified.
    pub problems: Vec<String>,
}

/// One load instance's progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadInstance {
    /// `hackbench`, `stress-ng` or `memory`.
    pub load: String,
    /// The CPU it was pinned to.
    pub cpu: u16,
    /// What it counts: `runs`, `bogo ops`, `MiB copied`.
    pub unit: String,
    /// Its command line.
    pub command: String,
    /// Operations before the window opened (`None`: the tool counts only at exit).
    pub before: Option<u64>,
    /// Operations over the window (from just before it opened to just after it closed).
    pub during: Option<u64>,
    /// `during` per second of that interval.
    pub during_per_s: Option<f64>,
    /// Operations from its start to its stop.
    pub total: u64,
    /// The interval `during` covers, s.
    pub interval_s: f64,
    /// Of that interval, the share its CPU was not idle (`/proc/stat`, 10 ms resolution).
    pub busy_share: f64,
    /// Runs that failed.
    pub failures: u32,
    /// Still running when the window closed.
    pub running: bool,
}

fn instance(p: &LoadProgress) -> LoadInstance {
    let interval_s = p.interval_ns as f64 / 1e9;
    LoadInstance {
        load: p.kind.name().into(),
        cpu: p.cpu,
        unit: p.kind.unit().into(),
        command: p.command.to_string(),
        before: p.before,
        during: p.during,
        during_per_s: p
            .during
            .filter(|_| interval_s > 0.0)
            .map(|d| round6(d as f64 / interval_s)),
        total: p.total,
        interval_s: round6(interval_s),
        busy_share: round6(if p.interval_ns > 0 {
            (p.busy_ns as f64 / p.interval_ns as f64).min(1.0)
        } else {
            0.0
        }),
        failures: p.failures,
        running: p.running,
    }
}

/// Why an instance does not show that it worked through the window, if it does not.
fn instance_problem(i: &LoadInstance) -> Option<String> {
    let at = format!("{} on CPU {}", i.load, i.cpu);
    if !i.running {
        return Some(format!("{at} had stopped before the window closed"));
    }
    match (i.before, i.during) {
        (Some(0), _) => Some(format!("{at} had done nothing before the window opened")),
        (_, Some(0)) => Some(format!("{at} did not progress during the window")),
        (None, None) if i.busy_share < 0.5 => Some(format!(
            "{at} kept its CPU busy only {:.0} % of the window",
            i.busy_share * 100.0
        )),
        _ => None,
    }
}

/// The loads `asked` names (`hackbench+stress-ng:--cpu 1` → hackbench, stress-ng).
fn asked_kinds(asked: &str) -> Vec<&str> {
    asked
        .split('+')
        .map(|i| i.split(':').next().unwrap_or(i))
        .filter(|i| !i.is_empty())
        .collect()
}

/// The load of a run that asked for one (`asked`), from what the probe counted.
pub fn summarize(asked: Option<&str>, a: &Analysis) -> Option<LoadSummary> {
    let asked = asked?;
    let instances: Vec<LoadInstance> = a.loads.iter().map(instance).collect();
    if asked == "interference" {
        return Some(LoadSummary {
            asked: asked.into(),
            instances,
            verified: None,
            problems: Vec::new(),
        });
    }
    let mut problems: Vec<String> = instances.iter().filter_map(instance_problem).collect();
    let measured = a.cores.len();
    let cpus = a.linux.as_ref().map(|l| l.cpus as usize).unwrap_or(0);
    let others = cpus.saturating_sub(measured);
    for kind in asked_kinds(asked) {
        let on: Vec<u16> = instances
            .iter()
            .filter(|i| i.load == kind)
            .map(|i| i.cpu)
            .collect();
        if on.len() < others {
            problems.push(format!(
                "{kind} reported from {} of the {others} CPUs besides the measured one",
                on.len()
            ));
        }
    }
    Some(LoadSummary {
        asked: asked.into(),
        verified: Some(problems.is_empty()),
        instances,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickscope_core::wire::msg::{LinuxInfo, LoadKind};

    fn progress(
        kind: LoadKind,
        cpu: u16,
        before: Option<u64>,
        during: Option<u64>,
    ) -> LoadProgress {
        LoadProgress {
            kind,
            cpu,
            command: heapless::String::new(),
            before,
            during,
            total: before.unwrap_or(0) + during.unwrap_or(0) + 3,
            interval_ns: 2_000_000_000,
            busy_ns: 1_900_000_000,
            failures: 0,
            running: true,
        }
    }

    fn analysis(loads: Vec<LoadProgress>, cpus: u16) -> Analysis {
        let mut a = Analysis {
            loads,
            linux: Some(LinuxInfo {
                cpus,
                nohz_full: heapless::String::new(),
                isolated: heapless::String::new(),
                rt_throttling_off: true,
                fifo: true,
                locked: true,
            }),
            ..Default::default()
        };
        a.core(cpus - 1);
        a
    }

    #[test]
    fn a_load_on_every_other_cpu_that_progressed_is_verified() {
        let a = analysis(
            vec![
                progress(LoadKind::Hackbench, 0, Some(4), Some(100)),
                progress(LoadKind::Hackbench, 1, Some(5), Some(90)),
                progress(LoadKind::Hackbench, 2, Some(3), Some(95)),
            ],
            4,
        );
        let s = summarize(Some("hackbench"), &a).unwrap();
        assert_eq!(s.verified, Some(true), "{:?}", s.problems);
        assert_eq!(s.instances[0].during_per_s, Some(50.0));
        assert_eq!(s.instances[0].busy_share, 0.95);
        assert!(summarize(None, &a).is_none());
    }

    #[test]
    fn a_missing_cpu_a_stalled_or_stopped_instance_is_named() {
        let mut stopped = progress(LoadKind::Memory, 1, Some(4), Some(8));
        stopped.running = false;
        let a = analysis(
            vec![
                progress(LoadKind::Hackbench, 0, Some(4), Some(0)),
                progress(LoadKind::Memory, 0, Some(4), Some(8)),
                stopped,
            ],
            3,
        );
        let s = summarize(Some("hackbench+memory"), &a).unwrap();
        assert_eq!(s.verified, Some(false));
        let all = s.problems.join("; ");
        for want in [
            "hackbench on CPU 0 did not progress during the window",
            "memory on CPU 1 had stopped before the window closed",
            "hackbench reported from 1 of the 2 CPUs",
        ] {
            assert!(all.contains(want), "{want} in {all}");
        }
    }

    #[test]
    fn a_tool_counting_only_at_exit_is_judged_by_its_cpu_time() {
        let mut idle = progress(LoadKind::StressNg, 0, None, None);
        idle.busy_ns = 200_000_000;
        let a = analysis(vec![idle], 2);
        let s = summarize(Some("stress-ng:--cpu 1"), &a).unwrap();
        assert!(s.problems[0].contains("busy only 10 %"), "{:?}", s.problems);
        let firmware = summarize(Some("interference"), &Analysis::default()).unwrap();
        assert_eq!(firmware.verified, None);
    }
}
