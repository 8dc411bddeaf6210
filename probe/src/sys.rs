//! The Linux system calls the probe needs, each wrapped with the error a user can act on:
//! CPU pinning, memory locking, SCHED_FIFO, raw tty output, absolute sleeps, and (as init)
//! mounting and powering off.

use std::ffi::CString;
use std::io;

/// An error with a message that says what to do.
#[derive(Debug)]
pub struct SysError(pub String);

impl std::fmt::Display for SysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// CPUs the kernel reports online, as a list (`/sys/devices/system/cpu/online`, e.g. `0-3`).
pub fn online_cpus() -> Vec<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    parse_cpu_list(text.trim())
}

/// Parses a kernel CPU list (`0-3,7`).
pub fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    v.extend(a..=b);
                }
            }
            None => {
                if let Ok(c) = part.trim().parse() {
                    v.push(c);
                }
            }
        }
    }
    v
}

fn set_affinity(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: as above; CPU_SET ignores out-of-range CPUs.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: pid 0 = the calling thread; `set` is a valid cpu_set_t of the given size.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 { Ok(()) } else { Err(last_error()) }
}

/// Pins the calling thread to `cpu`.
pub fn pin(cpu: usize) -> Result<(), SysError> {
    let online = online_cpus();
    if !online.contains(&cpu) {
        return Err(SysError(format!(
            "CPU {cpu} does not exist or is offline (online CPUs: {})",
            format_cpus(&online)
        )));
    }
    set_affinity(&[cpu]).map_err(|e| SysError(format!("cannot pin to CPU {cpu}: {e}")))
}

/// Pins the calling thread to every online CPU except `avoid` (or leaves it when there is none).
pub fn avoid(avoid: usize) {
    let others: Vec<usize> = online_cpus().into_iter().filter(|&c| c != avoid).collect();
    if !others.is_empty() {
        let _ = set_affinity(&others);
    }
}

/// `0-3,7` from a list.
pub fn format_cpus(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Locks all current and future memory (no page faults during the window).
pub fn lock_memory() -> Result<(), SysError> {
    // SAFETY: mlockall takes flags only.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
        Ok(())
    } else {
        let e = last_error();
        Err(SysError(format!(
            "cannot lock memory ({e}): run as root, raise `ulimit -l`, or pass --no-rt to measure without it"
        )))
    }
}

/// Switches the calling thread to SCHED_FIFO at `priority`.
pub fn fifo(priority: i32) -> Result<(), SysError> {
    // SAFETY: sched_param is plain data (musl adds sporadic-server fields we leave zero).
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = priority;
    // The raw system call: musl's sched_setscheduler() is a stub returning ENOSYS.
    // SAFETY: pid 0 = the calling thread; `param` is a valid sched_param the kernel only reads.
    if unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            0,
            libc::SCHED_FIFO,
            &param as *const libc::sched_param,
        )
    } == 0
    {
        Ok(())
    } else {
        let e = last_error();
        Err(SysError(format!(
            "cannot switch to SCHED_FIFO priority {priority} ({e}): run as root (or with CAP_SYS_NICE), or pass --no-rt"
        )))
    }
}

/// Switches the calling thread to SCHED_OTHER (what a load and the tools it starts run at).
pub fn normal() -> Result<(), SysError> {
    // SAFETY: sched_param is plain data; priority 0 is SCHED_OTHER's only one.
    let param: libc::sched_param = unsafe { std::mem::zeroed() };
    // The raw call: musl's sched_setscheduler() is a stub.
    // SAFETY: pid 0 = the calling thread; `param` is a valid sched_param the kernel only reads.
    if unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            0,
            libc::SCHED_OTHER,
            &param as *const libc::sched_param,
        )
    } == 0
    {
        Ok(())
    } else {
        Err(SysError(format!(
            "cannot switch to SCHED_OTHER: {}",
            last_error()
        )))
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
#[inline(always)]
pub fn monotonic_ns() -> u64 {
    // SAFETY: timespec is plain data; clock_gettime writes into it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC_RAW in nanoseconds (the kernel's clocksource without NTP's adjustments).
pub fn monotonic_raw_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the valid timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns` (absolute, as cyclictest does).
#[inline(always)]
pub fn sleep_until(deadline_ns: u64) {
    // SAFETY: timespec is plain data.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    ts.tv_sec = (deadline_ns / 1_000_000_000) as _;
    ts.tv_nsec = (deadline_ns % 1_000_000_000) as _;
    loop {
        // SAFETY: `ts` is a valid timespec; the remaining-time pointer may be null with TIMER_ABSTIME.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if r != libc::EINTR {
            return;
        }
    }
}

/// Puts a terminal into raw mode (no newline translation: wire frames are binary).
pub fn make_raw(fd: i32) {
    // SAFETY: termios is plain data; tcgetattr fills it or fails (then we leave the fd alone).
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open descriptor owned by the caller; `t` is valid.
    if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
        return;
    }
    // SAFETY: `t` came from tcgetattr.
    unsafe { libc::cfmakeraw(&mut t) };
    // SAFETY: as above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) };
}

/// Mounts a filesystem of type `fstype` at `target` (as init). Already-mounted is fine.
pub fn mount_fs(fstype: &str, target: &str) {
    mount(fstype, target)
}

/// The memory page size (trace pages are this long).
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a system parameter.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// The calling thread's ID.
pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// The calling thread's involuntary context switches so far.
pub fn thread_involuntary_switches() -> u64 {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid rusage to write into.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut r) } == 0 {
        r.ru_nivcsw as u64
    } else {
        0
    }
}

/// What to undo if the probe is killed by SIGINT or SIGTERM: the real-time throttling setting
/// to write back, and the trace instance to remove. Prepared before the handler is installed;
/// the handler uses only async-signal-safe calls (open, write, close, rmdir, _exit).
struct Undo {
    rt_path: std::ffi::CString,
    rt_value: Vec<u8>,
    instance: Option<std::ffi::CString>,
    /// The instance's open `tracing_on` and `trace_pipe_raw` (-1: none), closed before the
    /// instance is removed.
    instance_fds: [i32; 2],
}

static UNDO: std::sync::OnceLock<Undo> = std::sync::OnceLock::new();

extern "C" fn on_signal(_sig: libc::c_int) {
    if let Some(u) = UNDO.get() {
        if !u.rt_value.is_empty() {
            // The path and the buffer are valid and NUL-terminated where they must be.
            // SAFETY: open, write and close are async-signal-safe.
            unsafe {
                let fd = libc::open(u.rt_path.as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    libc::write(fd, u.rt_value.as_ptr().cast(), u.rt_value.len());
                    libc::close(fd);
                }
            }
        }
        if let Some(inst) = &u.instance {
            // Tracing is switched off and the files closed first: the kernel refuses to remove an
            // instance with a file open in it. The descriptors are this process's, and it exits
            // right after, so no owner of a closed one uses it again; the path is NUL-terminated.
            // SAFETY: write, close and rmdir are async-signal-safe.
            unsafe {
                let [on, pipe] = u.instance_fds;
                if on >= 0 {
                    libc::write(on, b"0".as_ptr().cast(), 1);
                    libc::close(on);
                }
                if pipe >= 0 {
                    libc::close(pipe);
                }
                libc::rmdir(inst.as_ptr());
            }
        }
    }
    // SAFETY: _exit ends the process without running anything else (async-signal-safe).
    unsafe { libc::_exit(130) };
}

/// Restores `rt_value` into `rt_path` and removes `instance` (its directory, after its open
/// `tracing_on` and `trace_pipe_raw` descriptors) if SIGINT, SIGTERM or SIGHUP (an ssh session
/// that ended) arrives.
pub fn undo_on_signal(
    rt_path: &str,
    rt_value: &str,
    instance: Option<(&std::path::Path, [i32; 2])>,
) {
    let undo = Undo {
        rt_path: CString::new(rt_path).unwrap_or_default(),
        rt_value: rt_value.as_bytes().to_vec(),
        instance: instance.and_then(|(p, _)| CString::new(p.as_os_str().as_encoded_bytes()).ok()),
        instance_fds: instance.map_or([-1, -1], |(_, fds)| fds),
    };
    if UNDO.set(undo).is_ok() {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: installs a handler that only makes async-signal-safe calls.
            unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
        }
    }
}

/// Mounts a filesystem (init mode). Already-mounted is fine.
pub fn mount(fstype: &str, target: &str) {
    let _ = std::fs::create_dir_all(target);
    let (src, t, ty) = (
        CString::new(fstype).unwrap(),
        CString::new(target).unwrap(),
        CString::new(fstype).unwrap(),
    );
    // SAFETY: all pointers are valid NUL-terminated strings; data may be null.
    unsafe { libc::mount(src.as_ptr(), t.as_ptr(), ty.as_ptr(), 0, std::ptr::null()) };
}

/// Flushes filesystems and powers the machine off (init mode; never returns on success).
pub fn power_off() -> ! {
    // SAFETY: sync has no arguments.
    unsafe { libc::sync() };
    // SAFETY: as init (PID 1) we may reboot; RB_POWER_OFF powers down (PSCI SYSTEM_OFF).
    unsafe { libc::reboot(libc::RB_POWER_OFF) };
    std::process::exit(1)
}
