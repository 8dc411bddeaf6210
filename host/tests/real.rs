//! Real machines: the Linux probe on this machine (`linux --here`) and, through an sshd started
//! on 127.0.0.1 with its own configuration and keys, on a remote one (`linux --ssh`). The local
//! timer is a cause of kind irq, its rate matches what `/proc/interrupts` counted, the trace
//! covers it; the remote's facts land in run.json; nothing is left behind (no copied files, no
//! trace instance, `sched_rt_runtime_us` as it was) after a run, an error or Ctrl-C; `compare
//! --runs` overlays two runs. Needs root (the test command runs as root) and Debian's
//! openssh-server (the test command installs it). The tests take turns: each measures CPU 1.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// tracefs mounted where the probe looks (a real machine may not have it mounted).
fn tracefs() {
    if !Path::new("/sys/kernel/tracing/instances").is_dir() {
        let _ = Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .status();
    }
    assert!(
        Path::new("/sys/kernel/tracing/instances").is_dir(),
        "tracefs is not available at /sys/kernel/tracing"
    );
}

/// What a run could leave behind: copied probes, trace instances, the RT throttling setting.
fn traces_of_a_run() -> (Vec<String>, Vec<String>, String) {
    let copies = std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tickscope.") && n.len() == "tickscope.XXXXXX".len())
        .collect();
    let instances = std::fs::read_dir("/sys/kernel/tracing/instances")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("tickscope-"))
                .collect()
        })
        .unwrap_or_default();
    let rt = std::fs::read_to_string("/proc/sys/kernel/sched_rt_runtime_us").unwrap_or_default();
    (copies, instances, rt)
}

fn assert_clean(before: &(Vec<String>, Vec<String>, String), what: &str) {
    let after = traces_of_a_run();
    assert_eq!(after.0, before.0, "{what}: probe copies left in /tmp");
    assert_eq!(after.1, before.1, "{what}: trace instances left behind");
    assert_eq!(after.2, before.2, "{what}: sched_rt_runtime_us changed");
    let probes = Command::new("pgrep")
        .args(["-f", "/tmp/tickscope\\.[A-Za-z0-9]+/tickscope-probe"])
        .output()
        .unwrap();
    assert!(
        probes.stdout.is_empty(),
        "{what}: a probe still runs: {}",
        String::from_utf8_lossy(&probes.stdout)
    );
}

/// The local timer's rate as `/proc/interrupts` counted it over the window.
fn counted_timer_rate(j: &serde_json::Value) -> f64 {
    j["interrupts_per_s"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("Local timer interrupts") || k.ends_with("arch_timer"))
        .map(|(_, v)| v.as_f64().unwrap())
        .sum()
}

/// The figures a real machine's run must account for.
fn check_figures(j: &serde_json::Value) {
    assert_eq!(j["emulation"], "hardware", "{j:#}");
    assert_eq!(j["attribution"], "tracefs", "{j:#}");
    let timer_cause = j["causes"].as_array().unwrap().iter().find(|c| {
        c["kind"] == "irq"
            && ["Local timer interrupts", "arch_timer"].contains(&c["name"].as_str().unwrap())
    });
    assert!(
        timer_cause.is_some(),
        "no cause of kind irq names the local timer: {:#}",
        j["causes"]
    );
    let counted = counted_timer_rate(j);
    let traced = num(j, "timer_irqs_per_s");
    assert!(
        counted > 0.0,
        "no timer interrupts counted: {:#}",
        j["interrupts_per_s"]
    );
    assert!(
        (traced - counted).abs() <= 0.02 * counted,
        "timer_irqs_per_s {traced} is not within 2 % of the {counted}/s /proc/interrupts counted"
    );
    let coverage = num(j, "attribution_coverage.timer");
    assert!(
        coverage >= 0.99,
        "timer coverage {coverage}: {:#}",
        j["attribution_coverage"]
    );
    assert!(j["problems"].as_array().unwrap().is_empty(), "{j:#}");
    // On arm64 the tick is the timer line found by its INTID; x86's local timer is a system
    // vector (`LOC`), known by name, and no line is claimed.
    if cfg!(target_arch = "aarch64") {
        assert!(j["timer_line"]["intid"].is_u64(), "{j:#}");
    } else {
        assert!(j.get("timer_line").is_none(), "{j:#}");
    }
}

#[test]
fn here_measures_this_machine_and_accounts_for_its_tick() {
    let _t = turn();
    tracefs();
    let before = traces_of_a_run();
    let d = tmp();
    let o = out(&d, "here");
    let r = tickscope(&[
        "linux",
        "--here",
        "--core",
        "1",
        "--duration",
        "5s",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    check_figures(&j);
    assert_eq!(j["kernel_mode"], "native");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}/run.json")).unwrap()).unwrap();
    assert_eq!(info["system"]["place"], "this machine", "{info:#}");
    assert_eq!(info["system"]["measured_cpu"], 1);
    assert_clean(&before, "after --here");
    // Two runs of this machine compare as a QEMU comparison does.
    let o2 = out(&d, "here-2");
    tickscope(&[
        "linux",
        "--here",
        "--core",
        "1",
        "--duration",
        "1s",
        "--out",
        &o2,
        "--label",
        "again",
    ])
    .expect_status(0);
    let cmp = out(&d, "compare");
    let c = tickscope(&["compare", "--runs", &o, &o2, "--out", &cmp, "--json"]);
    c.expect_status(0);
    let cj = c.json();
    assert_eq!(cj["runs"].as_array().unwrap().len(), 2, "{cj:#}");
    for f in [
        "report.md",
        "report.html",
        "ccdf.png",
        "causes.png",
        "timeline.png",
    ] {
        assert!(
            Path::new(&cmp).join(f).is_file(),
            "compare --runs wrote no {f}"
        );
    }
    let md = std::fs::read_to_string(Path::new(&cmp).join("report.md")).unwrap();
    assert!(md.contains("here") && md.contains("again"), "{md}");
}

/// `--load` on this machine: hackbench, the memory hog and stress-ng on the CPU that is not
/// measured, each started before the window and counted through it (run.json keeps the counts);
/// none of them is left running afterwards.
#[test]
fn here_under_load_counts_every_load_through_the_window() {
    let _t = turn();
    tracefs();
    let before = traces_of_a_run();
    let d = tmp();
    let o = out(&d, "here-load");
    let r = tickscope(&[
        "linux",
        "--here",
        "--core",
        "1",
        "--duration",
        "2s",
        "--load",
        "hackbench+memory+stress-ng:--cpu 1",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["label"], "here+hackbench+memory+stress-ng", "{j:#}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}/run.json")).unwrap()).unwrap();
    let load = &info["load"];
    assert_eq!(
        load["asked"], "hackbench+memory+stress-ng:--cpu 1",
        "{load:#}"
    );
    assert_eq!(load["verified"], true, "{load:#}");
    let instances = load["instances"].as_array().unwrap();
    let kinds: Vec<&str> = instances
        .iter()
        .map(|i| i["load"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hackbench", "memory", "stress-ng"], "{load:#}");
    for i in instances {
        assert_eq!(i["cpu"], 0, "the load stays off the measured CPU: {i:#}");
        assert_eq!(i["running"], true, "{i:#}");
        assert!(num(i, "interval_s") >= 2.0, "{i:#}");
        if i["load"] == "stress-ng" {
            // stress-ng counts only at exit: its total, and its CPU busy through the window.
            assert!(i["during"].is_null() && num(i, "total") > 0.0, "{i:#}");
            assert!(num(i, "busy_share") >= 0.5, "{i:#}");
        } else {
            assert!(num(i, "before") > 0.0 && num(i, "during") > 0.0, "{i:#}");
            assert!(
                num(i, "total") >= num(i, "before") + num(i, "during"),
                "{i:#}"
            );
        }
    }
    let md = std::fs::read_to_string(format!("{o}/summary.json")).unwrap();
    assert!(md.contains("\"load\""), "summary.json keeps the load too");
    // Nothing of the load outlives the run.
    std::thread::sleep(Duration::from_millis(300));
    for tool in ["hackbench", "stress-ng"] {
        let left = Command::new("pgrep").args(["-x", tool]).output().unwrap();
        assert!(
            left.stdout.is_empty(),
            "{tool} still running: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }
    assert_clean(&before, "after --here --load");
}

/// An sshd on a free port of 127.0.0.1 with its own host key, client key and configuration.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    fn start() -> Sshd {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sshd is missing (the test command installs it as root: apt-get install openssh-server)");
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        for key in ["host", "id"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(p(key))
                .status()
                .unwrap();
            assert!(st.success());
        }
        std::fs::copy(p("id.pub"), p("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            p("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
                p("host").display(),
                p("authorized_keys").display(),
                p("sshd.pid").display()
            ),
        )
        .unwrap();
        // sshd's privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(p("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "sshd does not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child, port, dir }
    }

    fn dest(&self) -> String {
        format!("root@127.0.0.1:{}", self.port)
    }

    /// `--ssh DEST` and the options that make the test's keys apply.
    fn args(&self) -> Vec<String> {
        let key = self.dir.path().join("id");
        let mut v = vec!["--ssh".to_string(), self.dest()];
        for o in [
            format!("IdentityFile={}", key.display()),
            "UserKnownHostsFile=/dev/null".into(),
            "StrictHostKeyChecking=no".into(),
            "LogLevel=ERROR".into(),
        ] {
            v.push("--ssh-option".into());
            v.push(o);
        }
        v
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ssh_run(sshd: &Sshd, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["linux".into()];
    args.extend(sshd.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    tickscope(&a)
}

#[test]
fn ssh_runs_on_the_remote_and_leaves_nothing_behind() {
    let _t = turn();
    tracefs();
    let sshd = Sshd::start();
    let before = traces_of_a_run();
    let d = tmp();
    let o = out(&d, "ssh");
    let r = ssh_run(
        &sshd,
        &["--core", "1", "--duration", "3s", "--json", "--out", &o],
    );
    r.expect_status(0);
    let j = r.json();
    check_figures(&j);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}/run.json")).unwrap()).unwrap();
    let sys = &info["system"];
    assert_eq!(sys["place"], format!("ssh {}", sshd.dest()), "{info:#}");
    for k in ["hostname", "arch", "cpu_model", "cpus_online"] {
        assert!(
            !sys[k].as_str().unwrap_or("").is_empty(),
            "run.json system.{k}: {info:#}"
        );
    }
    assert!(
        sys["nohz_full"].is_string() && sys["isolated"].is_string(),
        "{info:#}"
    );
    assert!(
        info["kernel"].as_str().is_some_and(|k| !k.is_empty()),
        "{info:#}"
    );
    assert!(
        info["kernel_cmdline"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{info:#}"
    );
    assert_clean(&before, "after a run");

    // An error there (the probe refuses its configuration after it was copied).
    let r = ssh_run(
        &sshd,
        &[
            "--core",
            "1",
            "--duration",
            "1s",
            "--threshold",
            "10s",
            "--out",
            &out(&d, "bad"),
        ],
    );
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("threshold"), "{}", r.stderr);
    assert_clean(&before, "after an error");

    // Ctrl-C while the probe runs there.
    let mut args: Vec<String> = vec!["linux".into()];
    args.extend(sshd.args());
    let o3 = out(&d, "interrupted");
    args.extend(["--core", "1", "--duration", "30s", "--json", "--out", &o3].map(String::from));
    let child = Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args(&args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    loop {
        let running = Command::new("pgrep")
            .args(["-f", "/tmp/tickscope\\.[A-Za-z0-9]+/tickscope-probe --out"])
            .output()
            .unwrap();
        if !running.stdout.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the probe never started there"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        PathBuf::from(&o3).join("capture.bin").is_file(),
        "what arrived is kept"
    );
    assert_clean(&before, "after Ctrl-C");
}

#[test]
fn a_console_reached_over_ssh_is_captured_byte_for_byte() {
    let sshd = Sshd::start();
    let d = tmp();
    let src = out(&d, "source");
    tickscope(&[
        "measure",
        "--mode",
        "noise",
        "--icount",
        "--duration",
        "200ms",
        "--transport",
        "uart",
        "--out",
        &src,
    ])
    .expect_status(0);
    let file = PathBuf::from(&src).join("capture.bin");
    let bytes = std::fs::read(&file).unwrap();
    // As a lab user reaches a board's console server: `ssh gateway console board`.
    let key = sshd.dir.path().join("id");
    let cmd = format!(
        "exec:ssh -o BatchMode=yes -o IdentityFile={} -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR -p {} root@127.0.0.1 cat {}",
        key.display(),
        sshd.port,
        file.display()
    );
    let o = out(&d, "via-ssh");
    let r = tickscope(&[
        "capture",
        "--serial",
        &cmd,
        "--timeout",
        "60",
        "--emulation",
        "icount",
        "--json",
        "--out",
        &o,
    ]);
    r.expect_status(0);
    let j = r.json();
    assert_eq!(j["binary_clean"], true, "{j:#}");
    assert_eq!(
        std::fs::read(PathBuf::from(&o).join("capture.bin")).unwrap(),
        bytes
    );
}
