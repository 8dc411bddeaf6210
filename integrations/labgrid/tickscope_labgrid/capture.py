"""Reads a tickscope run off a labgrid console, byte for byte (the wire frames are binary, the
console's text lines around them stay as they came), until the firmware's last line; and hands
the capture to the `tickscope` binary: `import` makes a run directory, `check` gates it against a
baseline."""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The firmware's last line; the plain-text result lines (`tickscope-result: ...`) come before it.
END = b"tickscope: run finished, status "


def read_run(console, timeout=120.0, settle=0.3):
    """Bytes from `console` (a labgrid ConsoleProtocol driver) until the firmware's end line is
    complete and the console has been quiet for `settle` seconds, the console ends, or `timeout`
    passes. Returns (bytes, why_it_stopped)."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    ended_at = None
    while time.monotonic() < deadline:
        try:
            # size=1 (labgrid reads what is waiting, up to max_size): pyserial's socket:// port
            # drops what a larger read had gathered when the peer closes during it, and a board
            # or QEMU closes right after its last line.
            chunk = console.read(size=1, timeout=0.1, max_size=65536)
        except Exception as e:  # noqa: BLE001 - labgrid's drivers raise their own kinds
            if type(e).__name__ == "TIMEOUT":  # pexpect's: nothing arrived in 0.1 s
                chunk = b""
            else:
                # The console ended: QEMU exited (EOFError from TickscopeQEMUDriver), a network
                # port closed (pyserial's SerialException), ...
                at = buf.find(END)
                if at >= 0 and buf.find(b"\n", at) >= 0:
                    return bytes(buf), "the run's end line"
                return bytes(buf), f"the console ended before the run's end line ({e})"
        if chunk:
            buf += chunk
            ended_at = None if ended_at is None else time.monotonic()
        at = buf.find(END)
        if at >= 0 and buf.find(b"\n", at) >= 0:
            if ended_at is None:
                ended_at = time.monotonic()
            elif time.monotonic() - ended_at >= settle:
                return bytes(buf), "the run's end line"
    return bytes(buf), f"no end line within {timeout} s"


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

    def import_capture(self, data, out_dir, label, emulation="hardware", qemu_version=None):
        """Writes `data` as capture.bin in `out_dir` and makes a run directory of it."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        capture = out_dir / "capture.bin"
        capture.write_bytes(data)
        run_dir = out_dir / label
        args = ["import", capture, "--label", label, "--emulation", emulation, "--json", "--out", run_dir]
        if qemu_version:
            args += ["--qemu-version", qemu_version]
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
