//! Linux on a real machine: this one (`linux --here`) or another over the system's OpenSSH
//! client (`linux --ssh [USER@]HOST[:PORT]`, the user's ssh config, agent and keys applying):
//! the static probe for its architecture run there as root (sudo when not), its capture fetched,
//! what was copied removed on every path, and the machine's facts recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{Capture, End, Expect};
use crate::guest::linux::AttributionChoice;
use crate::machine::{Emulation, Facts, KernelFacts, SystemFacts};
use crate::progress::Progress;
use crate::{fail, interrupt, kernel, status};

/// Where the probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// This machine.
    Here,
    /// Another, through `ssh`.
    Ssh {
        /// `[USER@]HOST`.
        dest: String,
        /// `-p PORT`.
        port: Option<u16>,
        /// `-o OPTION` for each (`--ssh-option`).
        options: Vec<String>,
    },
}

impl Place {
    /// Parses `[USER@]HOST[:PORT]` (`[::1]:2222` for an IPv6 address with a port).
    pub fn ssh(spec: &str, options: Vec<String>) -> Result<Place> {
        let bad = || {
            fail(
                status::CONFIG,
                format!("--ssh {spec}: expected [USER@]HOST[:PORT]"),
            )
        };
        let (user, host) = match spec.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u), h),
            Some(_) => return Err(bad()),
            None => (None, spec),
        };
        let (host, port) = if let Some(rest) = host.strip_prefix('[') {
            let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
                None if tail.is_empty() => None,
                None => return Err(bad()),
            };
            (h, port)
        } else if host.matches(':').count() == 1 {
            let (h, p) = host.split_once(':').ok_or_else(bad)?;
            (h, Some(p.parse::<u16>().map_err(|_| bad())?))
        } else {
            (host, None)
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Place::Ssh {
            dest: user.map_or(host.to_string(), |u| format!("{u}@{host}")),
            port,
            options,
        })
    }

    /// How run.json names it: `this machine` or `ssh USER@HOST:PORT`.
    pub fn name(&self) -> String {
        match self {
            Place::Here => "this machine".into(),
            Place::Ssh { dest, port, .. } => match port {
                Some(p) => format!("ssh {dest}:{p}"),
                None => format!("ssh {dest}"),
            },
        }
    }

    /// A command running `script` with `sh` there.
    fn command(&self, script: &str) -> Command {
        match self {
            Place::Here => {
                let mut c = Command::new("sh");
                c.args(["-c", script]);
                c
            }
            Place::Ssh {
                dest,
                port,
                options,
            } => {
                let mut c = Command::new("ssh");
                // Never a password prompt: tickscope reads ssh's output.
                c.args(["-o", "BatchMode=yes"]);
                for o in options {
                    c.args(["-o", o]);
                }
                if let Some(p) = port {
                    c.args(["-p", &p.to_string()]);
                }
                c.arg(dest).arg("--").arg(script);
                c
            }
        }
    }

    /// Runs `script` there and returns its stdout (stdin: `input`); an error with its stderr
    /// when it fails.
    fn run(&self, script: &str, input: &[u8], what: &str) -> Result<Vec<u8>> {
        let mut child = self
            .command(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match (self, e.kind()) {
                (Place::Ssh { .. }, std::io::ErrorKind::NotFound) => fail(
                    status::MISSING_TOOL,
                    "ssh is missing: apt-get install openssh-client",
                ),
                _ => fail(status::FAILURE, format!("{what}: {e}")),
            })?;
        let mut stdin = child.stdin.take().expect("piped");
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().context(what.to_string())?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(fail(
                status::FAILURE,
                format!(
                    "{what} on {} failed ({}): {}",
                    self.name(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        Ok(out.stdout)
    }
}

/// A run on a real machine.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where.
    pub place: Place,
    /// `noise` or `timer`.
    pub mode: tickscope_core::Mode,
    /// The measured CPU (`None`: the last one).
    pub cpu: Option<usize>,
    /// Window, ns.
    pub duration_ns: u64,
    /// Timer period, ns.
    pub period_ns: u64,
    /// Event threshold, ns.
    pub threshold_ns: u64,
    /// Time the probe waits before measuring, ns.
    pub settle_ns: u64,
    /// How often the probe ships its status during the window, ns; 0: never.
    pub checkpoint_ns: u64,
    /// Attribution method.
    pub attribution: AttributionChoice,
    /// SCHED_FIFO priority (default 99 in timer mode, 90 in noise mode).
    pub priority: Option<i32>,
    /// oslat and cyclictest after the probe (the machine's own rt-tests).
    pub peers: bool,
    /// What runs on the other CPUs through the window (`--load`; the machine's own tools).
    pub load: crate::load::Load,
    /// Wall-clock limit (default: from the run length).
    pub timeout: Option<Duration>,
    /// No progress display.
    pub quiet: bool,
}

/// What the machine says of itself (one round trip).
const FACTS: &str = r#"echo "arch=$(uname -m)"
echo "release=$(uname -r)"
echo "uid=$(id -u)"
echo "online=$(cat /sys/devices/system/cpu/online)"
echo "nohz_full=$(cat /sys/devices/system/cpu/nohz_full 2>/dev/null)"
echo "isolated=$(cat /sys/devices/system/cpu/isolated 2>/dev/null)"
m=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2-)
[ -n "$m" ] || m="implementer$(grep -m1 'CPU implementer' /proc/cpuinfo | cut -d: -f2) part$(grep -m1 'CPU part' /proc/cpuinfo | cut -d: -f2)"
echo "model=$m"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
echo "cmdline=$(cat /proc/cmdline)"
if [ "$(id -u)" = 0 ]; then echo "sudo=root"; elif sudo -n true 2>/dev/null; then echo "sudo=yes"; else echo "sudo=no"; fi
grep -E '^Cap(Eff):' /proc/self/status | tr -d '\t' | sed 's/:/=/'
"#;

/// The machine's facts, parsed from [`FACTS`]' output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    /// `uname -m`.
    pub arch: String,
    /// `uname -r`.
    pub release: String,
    /// CPUs online.
    pub cpus: Vec<usize>,
    /// `nohz_full`.
    pub nohz_full: String,
    /// `isolated`.
    pub isolated: String,
    /// CPU model.
    pub model: String,
    /// Host name.
    pub hostname: String,
    /// `/proc/cmdline`.
    pub cmdline: String,
    /// `root`, `yes` (sudo without a password) or `no`.
    pub sudo: String,
}

impl Machine {
    /// Parses `key=value` lines.
    pub fn parse(text: &str) -> Machine {
        let mut m = Machine::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().to_string();
            match k {
                "arch" => m.arch = v,
                "release" => m.release = v,
                "online" => m.cpus = kernel::parse_cpu_list(&v),
                "nohz_full" => m.nohz_full = v,
                "isolated" => m.isolated = v,
                "model" => m.model = v.split_whitespace().collect::<Vec<_>>().join(" "),
                "hostname" => m.hostname = v,
                "cmdline" => m.cmdline = v,
                "sudo" => m.sudo = v,
                _ => {}
            }
        }
        m
    }
}

impl Request {
    /// The SCHED_FIFO priority the probe runs at.
    pub fn priority(&self) -> i32 {
        self.priority
            .unwrap_or(crate::guest::linux::default_priority(self.mode))
    }

    /// Refuses what cannot run before anything is built or copied.
    pub fn validate(&self) -> Result<()> {
        if self.mode == tickscope_core::Mode::Boot {
            return Err(fail(
                status::CONFIG,
                "the Linux probe measures timer or noise",
            ));
        }
        if let Some(p) = self.priority
            && !(1..=99).contains(&p)
        {
            return Err(fail(status::CONFIG, format!("--priority {p}: 1..99")));
        }
        Ok(())
    }

    /// The probe's arguments (its output file aside).
    fn probe_args(&self, cpu: usize) -> String {
        crate::guest::linux::ProbeArgs {
            mode: self.mode,
            cpu,
            duration_ns: self.duration_ns,
            period_ns: self.period_ns,
            threshold_ns: self.threshold_ns,
            settle_ns: self.settle_ns,
            checkpoint_ns: self.checkpoint_ns,
            attribution: self.attribution,
            priority: self.priority(),
            peers: self.peers,
            load: self.load.probe_arg(),
            icount: false,
        }
        .render()
    }

    fn estimate(&self) -> Duration {
        let mut s = (self.duration_ns + self.settle_ns) as f64 / 1e9;
        if self.peers {
            s += 1.0 + 2.0 * self.duration_ns.div_ceil(1_000_000_000) as f64;
        }
        Duration::from_secs_f64(s + 1.0)
    }
}

/// The measured CPU: the one asked for, which must be online, or the last one online.
fn choose_cpu(req: &Request, m: &Machine) -> Result<usize> {
    let last = m.cpus.last().copied();
    match req.cpu {
        Some(c) if m.cpus.contains(&c) => Ok(c),
        Some(c) => Err(fail(
            status::CONFIG,
            format!(
                "--core {c}: {} has CPUs {} online",
                req.place.name(),
                crate::kernel::cpu_list(&m.cpus)
            ),
        )),
        None => last.ok_or_else(|| fail(status::FAILURE, "the machine lists no CPU online")),
    }
}

/// `sudo -n` when the user there is not root and sudo takes no password; an error otherwise.
fn privilege(place: &Place, m: &Machine) -> Result<&'static str> {
    match m.sudo.as_str() {
        "root" => Ok(""),
        "yes" => Ok("sudo -n "),
        _ => Err(fail(
            status::CONFIG,
            format!(
                "the probe needs root on {} (SCHED_FIFO, locked memory, tracefs): connect as root, or allow passwordless sudo for this user",
                place.name()
            ),
        )),
    }
}

/// On this machine, the load's tools are installed with apt when missing (as root; otherwise a
/// message says which package). Elsewhere the probe says which one is missing.
fn load_tools_here(load: &crate::load::Load) -> Result<()> {
    let missing: Vec<&str> = load
        .tools()
        .into_iter()
        .filter(|t| {
            ["/usr/bin", "/usr/sbin"]
                .iter()
                .all(|d| !Path::new(d).join(t).exists())
        })
        .map(crate::load::package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    crate::deps::apt_install(&missing)
}

/// Runs the probe there and returns its capture.
pub fn run(req: &Request) -> Result<Capture> {
    let started = Instant::now();
    // Ctrl-C stops the probe there (and removes what was copied) instead of ending tickscope.
    interrupt::install();
    let facts_text = req.place.run(FACTS, b"", "reading the machine's facts")?;
    let m = Machine::parse(&String::from_utf8_lossy(&facts_text));
    let target = kernel::probe_target(&m.arch)?;
    let cpu = choose_cpu(req, &m)?;
    let sudo = privilege(&req.place, &m)?;
    if req.place == Place::Here {
        load_tools_here(&req.load)?;
    }
    let probe = kernel::build_probe_for(target)?;
    let bytes = std::fs::read(&probe).with_context(|| format!("reading {}", probe.display()))?;
    // The probe and its output in a private directory there, removed on every path.
    let dir = String::from_utf8_lossy(&req.place.run(
        "set -e; d=$(mktemp -d /tmp/tickscope.XXXXXX); cat > \"$d/tickscope-probe\"; chmod 755 \"$d/tickscope-probe\"; echo \"$d\"",
        &bytes,
        "copying the probe",
    )?)
    .trim()
    .to_string();
    let outcome = measure(req, &dir, sudo, cpu);
    let fetched = req.place.run(
        &format!("cat {dir}/capture.bin 2>/dev/null; true"),
        b"",
        "fetching the capture",
    );
    let cleaned = req.place.run(
        &format!("{sudo}rm -rf {dir}"),
        b"",
        "removing what was copied",
    );
    let (end, stderr) = outcome?;
    let capture = fetched?;
    cleaned?;
    let label = req.place.name();
    Ok(Capture {
        bytes: capture,
        spill: None,
        console: String::new(),
        emulator_log: stderr,
        end,
        facts: facts(req, &m, cpu, &label),
        elf: None,
        config: req.probe_args(cpu),
        wall: started.elapsed(),
        boot_s: None,
        keep: vec![],
        expect: Expect {
            nohz_full_cpu: None,
            status_in_trailer: true,
            load: (!req.load.is_none()).then(|| req.load.name()),
        },
    })
}

fn facts(req: &Request, m: &Machine, cpu: usize, place: &str) -> Facts {
    Facts {
        board: if m.hostname.is_empty() {
            place.to_string()
        } else {
            m.hostname.clone()
        },
        cpu: m.model.clone(),
        cores: m.cpus.len() as u16,
        emulation: Emulation::Hardware,
        kernel: Some(KernelFacts {
            release: m.release.clone(),
            package: None,
            cmdline: m.cmdline.clone(),
            mode: None,
            snapshot: None,
        }),
        system: Some(SystemFacts {
            place: place.to_string(),
            hostname: m.hostname.clone(),
            arch: m.arch.clone(),
            cpu_model: m.model.clone(),
            cpus_online: crate::kernel::cpu_list(&m.cpus),
            nohz_full: m.nohz_full.clone(),
            isolated: m.isolated.clone(),
            measured_cpu: cpu,
            measured_cpu_isolated: kernel::parse_cpu_list(&m.isolated).contains(&cpu),
            measured_cpu_nohz_full: kernel::parse_cpu_list(&m.nohz_full).contains(&cpu),
        }),
        peers_package: req.peers.then(|| "the machine's own rt-tests".to_string()),
        load_packages: Vec::new(),
        ..Facts::default()
    }
}

/// The script that runs the probe there: in the background, killed (SIGTERM: it restores what
/// it changed and removes its trace instance) when the connection's stdin ends, so a Ctrl-C or
/// a dropped connection leaves no probe running; its status on the last line.
fn script(dir: &str, sudo: &str, args: &str) -> String {
    format!(
        "exec 3<&0
{sudo}{dir}/tickscope-probe --out {dir}/capture.bin {args} </dev/null >{dir}/stdout.txt 2>{dir}/stderr.txt &
p=$!
( cat <&3 >/dev/null 2>&1; kill -TERM $p 2>/dev/null ) >/dev/null 2>&1 &
exec 3<&-
wait $p
echo \"probe-exit=$?\"
"
    )
}

/// Runs the probe and waits for it: (how it ended, what it wrote on stderr).
fn measure(req: &Request, dir: &str, sudo: &str, cpu: usize) -> Result<(End, Vec<u8>)> {
    let args = req.probe_args(cpu);
    let mut child = req
        .place
        .command(&script(dir, sudo, &args))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the probe")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line);
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let stderr_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut v);
        v
    });
    let expected = req.estimate();
    let limit = req
        .timeout
        .unwrap_or(expected * 2 + Duration::from_secs(60));
    let progress = Progress::new(
        &format!("Linux on {}", req.place.name()),
        expected,
        req.quiet,
    );
    let t0 = Instant::now();
    let end = loop {
        progress.tick(t0.elapsed());
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(rc) = line.strip_prefix("probe-exit=") {
                    let rc: u8 = rc.trim().parse().unwrap_or(status::FAILURE);
                    break ended(rc);
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                // A Ctrl-C reaches the local shell (or ssh) too, which may end first.
                std::thread::sleep(Duration::from_millis(200));
                if let Some(signal) = interrupt::requested() {
                    break End::Interrupted { signal };
                }
                break End::Crashed {
                    what: format!(
                        "the connection to {} ended before the probe did",
                        req.place.name()
                    ),
                };
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(signal) = interrupt::requested() {
            break End::Interrupted { signal };
        }
        if t0.elapsed() > limit {
            break End::Hung {
                after_s: limit.as_secs(),
            };
        }
    };
    progress.finish();
    // Closing stdin ends the watchdog there (and stops the probe if it still runs).
    stop(&mut child);
    let mut err = stderr_thread.join().unwrap_or_default();
    if let Ok(more) = req.place.run(
        &format!("cat {dir}/stderr.txt 2>/dev/null; true"),
        b"",
        "reading the probe's messages",
    ) {
        err.extend(more);
    }
    Ok((end, err))
}

fn ended(rc: u8) -> End {
    match rc {
        // 130: the probe's own SIGINT/SIGTERM handler (it restored and removed what it set up).
        0..=5 | 124 | 127 | 130 => End::Exited(rc),
        _ => End::Crashed {
            what: format!("the probe ended with status {rc}"),
        },
    }
}

/// Ends the connection: stdin closed (the watchdog there stops the probe), then the process.
fn stop(child: &mut Child) {
    drop(child.stdin.take());
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_destinations() {
        let p = |s: &str| Place::ssh(s, vec![]).map(|p| p.name());
        assert_eq!(p("root@127.0.0.1:2222").unwrap(), "ssh root@127.0.0.1:2222");
        assert_eq!(p("board").unwrap(), "ssh board");
        assert_eq!(p("me@[::1]:22").unwrap(), "ssh me@::1:22");
        assert_eq!(p("fe80::1").unwrap(), "ssh fe80::1");
        for bad in ["", "@host", "host:port", "a b", "[::1]x"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn machine_facts_parse() {
        let m = Machine::parse(
            "arch=aarch64\nrelease=6.1.0-56-arm64\nuid=0\nonline=0-47\nnohz_full=1-47\nisolated=1-47\nmodel=implementer 0x43 part 0x0a1\nhostname=enzian-3\ncmdline=isolcpus=1-47 nohz_full=1-47\nsudo=root\n",
        );
        assert_eq!(m.arch, "aarch64");
        assert_eq!(m.cpus.len(), 48);
        assert_eq!(m.model, "implementer 0x43 part 0x0a1");
        assert_eq!(m.cmdline, "isolcpus=1-47 nohz_full=1-47");
        let req = Request {
            place: Place::Here,
            mode: tickscope_core::Mode::Noise,
            cpu: Some(48),
            duration_ns: 1,
            period_ns: 1,
            threshold_ns: 1,
            settle_ns: 0,
            checkpoint_ns: 0,
            attribution: AttributionChoice::Auto,
            priority: None,
            peers: false,
            load: crate::load::Load::default(),
            timeout: None,
            quiet: true,
        };
        assert!(choose_cpu(&req, &m).is_err());
        assert_eq!(
            choose_cpu(
                &Request {
                    cpu: None,
                    ..req.clone()
                },
                &m
            )
            .unwrap(),
            47
        );
        assert!(
            privilege(
                &Place::Here,
                &Machine {
                    sudo: "no".into(),
                    ..m
                }
            )
            .is_err()
        );
    }
}
