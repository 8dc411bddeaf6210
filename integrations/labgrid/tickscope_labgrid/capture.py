"""Reads a tickscope run off a labgrid console, byte for byte (the wire frames are binary, the
console's text lines around them stay as they came), until the firmware's last line; and hands
the capture to the `tickscope` binary: `import` makes a run directory, `check` gates it against a
baseline. Safe to call from several threads: every labgrid call goes through one lock."""

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The firmware's last line; the plain-text result lines (`tickscope-result: ...`) come before it.
END = b"tickscope: run finished, status "

#: labgrid keeps one step stack per process and asserts when two threads use it at once, so
#: every labgrid call this package makes (reads, activation, power) holds this lock. Tests that
#: drive labgrid themselves from several threads take it too (`with labgrid_lock:`).
labgrid_lock = threading.RLock()

#: How long one read may hold the lock: short, so boards read from other threads take turns.
READ_SLICE_S = 0.05


class ConsoleError(RuntimeError):
    """labgrid (or a console driver) failed while a run was being read: not the end of a short
    run. `data` holds the bytes that had arrived."""

    def __init__(self, message, data):
        super().__init__(message)
        self.data = data


class CaptureExists(FileExistsError):
    """A capture or run directory of that name is already there; nothing was replaced."""


def _console_ended(e):
    """Whether `e` says the console ended (the emulator exited, a network port closed), as
    opposed to labgrid or a driver failing."""
    if isinstance(e, (EOFError, ConnectionError)):
        return True
    try:
        from serial import SerialException
    except ImportError:  # pragma: no cover - labgrid depends on pyserial
        return False
    return isinstance(e, SerialException)


def _drain_rfc2217(console):
    """What pyserial's RFC 2217 port still holds once its reader thread has ended: its `read()`
    raises as soon as the thread is gone, although the thread queued the run's last bytes
    before it ended. (`_read_buffer` is pyserial's own queue of received bytes, ended by None.)"""
    port = getattr(console, "serial", None)
    pending = getattr(port, "_read_buffer", None)
    out = bytearray()
    if not isinstance(pending, queue.Queue):
        return out
    while True:
        try:
            item = pending.get_nowait()
        except queue.Empty:
            return out
        if item is None:
            return out
        out += item


def _has_end(buf):
    at = buf.find(END)
    return at >= 0 and buf.find(b"\n", at) >= 0


def read_run(console, timeout=120.0, settle=0.3, lock=labgrid_lock):
    """Bytes from `console` (a labgrid ConsoleProtocol driver) until the firmware's end line is
    complete and the console has been quiet for `settle` seconds, the console ends, or `timeout`
    passes. Returns (bytes, why_it_stopped). Raises ConsoleError (with the bytes so far) when
    labgrid itself fails: a labgrid error is never reported as a short run."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    ended_at = None
    while time.monotonic() < deadline:
        try:
            # size=1 (labgrid reads what is waiting, up to max_size): pyserial's socket:// port
            # drops what a larger read had gathered when the peer closes during it, and a board
            # or QEMU closes right after its last line.
            with lock:
                chunk = console.read(size=1, timeout=READ_SLICE_S, max_size=65536)
        except Exception as e:  # noqa: BLE001 - labgrid's drivers raise their own kinds
            if type(e).__name__ == "TIMEOUT":  # pexpect's: nothing arrived in the slice
                chunk = b""
            elif _console_ended(e):
                # QEMU exited (EOFError from TickscopeQEMUDriver), a network port closed
                # (pyserial's SerialException): keep what the port had still queued.
                buf += _drain_rfc2217(console)
                if _has_end(buf):
                    return bytes(buf), "the run's end line"
                return bytes(buf), f"the console ended before the run's end line ({e})"
            else:
                raise ConsoleError(
                    f"labgrid failed while reading the console after {len(buf)} bytes: "
                    f"{type(e).__name__}: {e}",
                    bytes(buf),
                ) from e
        if chunk:
            buf += chunk
            ended_at = None if ended_at is None else time.monotonic()
        if _has_end(buf):
            if ended_at is None:
                ended_at = time.monotonic()
            elif time.monotonic() - ended_at >= settle:
                return bytes(buf), "the run's end line"
        # Python's lock is not fair: step aside so boards read from other threads get turns.
        time.sleep(0.001)
    return bytes(buf), f"no end line within {timeout} s"


def file_name(label):
    """A label as a file name: what is not a letter, digit, `.`, `_` or `-` becomes `-`
    (the same rule as tickscope's run directories)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", label).strip(".")
    return name or "run"


@dataclass
class RunCapture:
    """A run made from a capture: its directory and what tickscope said."""

    capture: Path
    run_dir: Path
    status: int
    summary: dict = field(default_factory=dict)
    stderr: str = ""


class Tickscope:
    """The `tickscope` binary: `TICKSCOPE` from the environment, else on PATH."""

    def __init__(self, binary=None):
        self.binary = binary or os.environ.get("TICKSCOPE") or shutil.which("tickscope")
        if not self.binary:
            raise RuntimeError("no tickscope binary: set TICKSCOPE or put tickscope on PATH")

    def run(self, *args):
        return subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True)

    def import_capture(self, data, out_dir, label, emulation="hardware", qemu_version=None,
                       force=False):
        """Writes `data` as `<label>.bin` in `out_dir` and makes the run directory `<label>/`
        of it. Captures of other labels share `out_dir` safely; an existing capture or run of
        the same label is never replaced (CaptureExists; tickscope's own refusal for the run
        directory) unless `force`."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        name = file_name(label)
        capture = out_dir / f"{name}.bin"
        run_dir = out_dir / name
        try:
            # "x": created here or not at all, so two imports of one label cannot both write it.
            with open(capture, "wb" if force else "xb") as f:
                f.write(data)
        except FileExistsError:
            raise CaptureExists(
                f"{capture} already exists: another run has the label {label!r} "
                "(choose another label, or force=True to replace it)"
            ) from None
        args = ["import", capture, "--label", label, "--emulation", emulation, "--json", "--out", run_dir]
        if qemu_version:
            args += ["--qemu-version", qemu_version]
        if force:
            args.append("--force")
        r = self.run(*args)
        summary = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
        return RunCapture(capture, run_dir, r.returncode, summary, r.stderr)

    def check(self, run_dir, baseline):
        """`tickscope check --json`: (exit status, its verdicts)."""
        r = self.run("check", "--baseline", baseline, run_dir, "--json")
        return r.returncode, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else {"error": r.stderr})

    def qemu_version(self, qemu_bin):
        r = subprocess.run([qemu_bin, "--version"], capture_output=True, text=True)
        return r.stdout.splitlines()[0] if r.stdout else None
