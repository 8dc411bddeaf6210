"""A lab with two boards on 127.0.0.1: one coordinator, two exporters, two places (`board-a`, the
firmware with a 250 Hz injected tick; `board-b`, 100 Hz), both acquired in this session. Both
boards are captured at once four ways (the plugin's reader from two threads, from two processes,
the per-board fixture from two threads, `tickscope capture` twice), every capture imported into
one shared directory: each run must show its own board's tick, no file may be overwritten, and
20 rounds of two concurrent imports must give 20 correct pairs."""

import hashlib
import json
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab import Qemu, cont_command, firmware_args, free_port
from tickscope_labgrid.capture import CaptureExists, labgrid_lock, read_run

#: board -> (its injected tick, the events per second its 1 s icount window must show)
BOARDS = {"board-a": ("250:10us", (249.0, 251.0)), "board-b": ("100:10us", (99.0, 101.0))}


class Lab:
    """The lab's fixed facts: per board its place, serial port and QEMU monitor port; the
    environment file naming both boards as targets."""

    def __init__(self, coordinator, workdir):
        self.coordinator = coordinator
        self.places = {b: f"{b}-{os.getpid()}" for b in BOARDS}
        self.ports = {b: free_port() for b in BOARDS}
        self.monitors = {b: free_port() for b in BOARDS}
        self.env_yaml = workdir / "env-lab.yaml"

    def write_env(self):
        targets = []
        for b in BOARDS:
            targets.append(
                f"  {b}:\n    resources:\n      RemotePlace:\n        name: {self.places[b]}\n"
                f"    drivers:\n      SerialDriver: {{}}\n      ExternalPowerDriver:\n"
                f"        cmd_on: {json.dumps(cont_command(self.monitors[b]))}\n        cmd_off: 'true'\n"
            )
        self.env_yaml.write_text("targets:\n" + "".join(targets))

    def boot_all(self):
        """Both boards' QEMUs, paused until their power goes on (`cont`)."""
        return {b: Qemu(firmware_args(inject=BOARDS[b][0]), port=self.ports[b], monitor=self.monitors[b])
                for b in BOARDS}


@pytest.fixture(scope="module")
def lab(coordinator, tmp_path_factory):
    lab = Lab(coordinator, tmp_path_factory.mktemp("lab"))
    for b in BOARDS:
        coordinator.exporter(f"exporter-{b}", {b: (lab.ports[b], "raw")})
        coordinator.place(lab.places[b], f"exporter-{b}/{b}/NetworkSerialPort")
    lab.write_env()
    yield lab
    for b in BOARDS:
        coordinator.drop(lab.places[b])
        assert lab.places[b] not in coordinator.client("any", "places", check=False).stdout


def read_board(env_yaml, board, coordinator, monitor):
    """One board's run through the plugin's reader, in a process of its own (labgrid state is
    per process): its own Environment and target, the board let run once the console is open."""
    os.environ["LG_COORDINATOR"] = coordinator
    from labgrid import Environment

    from lab import cont

    env = Environment(str(env_yaml))
    target = env.get_target(board)
    serial = target.get_driver("SerialDriver")
    target.activate(serial)
    cont(monitor)
    data, why = read_run(serial, timeout=60)
    env.cleanup()
    return data, why


def captures_by_threads(lab):
    from labgrid import Environment

    env = Environment(str(lab.env_yaml))
    qemus = lab.boot_all()

    def one(b):
        with labgrid_lock:
            target = env.get_target(b)
            serial = target.get_driver("SerialDriver")
            target.activate(serial)
        qemus[b].cont()
        return read_run(serial, timeout=60)

    try:
        with ThreadPoolExecutor(len(BOARDS)) as pool:
            got = dict(zip(BOARDS, pool.map(one, BOARDS)))
    finally:
        env.cleanup()
        for q in qemus.values():
            q.stop()
    return got


def captures_by_processes(lab):
    qemus = lab.boot_all()
    try:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(len(BOARDS)) as pool:
            got = pool.starmap(read_board, [(lab.env_yaml, b, lab.coordinator.address, lab.monitors[b])
                                            for b in BOARDS])
    finally:
        for q in qemus.values():
            q.stop()
    return dict(zip(BOARDS, got))


def check_run(summary, board, where):
    lo, hi = BOARDS[board][1]
    assert summary.get("lost") == 0 and summary.get("frames_lost") == 0, (where, summary)
    rate = summary.get("events_per_s")
    assert rate is not None and lo <= rate <= hi, f"{where}: {board} shows {rate} events/s, not {lo}-{hi}"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_boards_captured_at_once_every_way_stay_apart(lab, tickscope, tickscope_firmware_run, tmp_path):
    shared = tmp_path / "shared"
    captures = {}  # (way, board) -> bytes

    for way, got in (("threads", captures_by_threads(lab)), ("processes", captures_by_processes(lab))):
        for b, (data, why) in got.items():
            assert why == "the run's end line", (way, b, why, len(data))
            captures[(way, b)] = data

    # The per-board fixture, one thread per board, each naming its target.
    from labgrid import Environment

    env = Environment(str(lab.env_yaml))
    qemus = lab.boot_all()
    try:
        with ThreadPoolExecutor(len(BOARDS)) as pool:
            runs = dict(zip(BOARDS, pool.map(
                lambda b: tickscope_firmware_run(label=f"fixture-{b}", emulation="icount",
                                                 target=env.get_target(b), out_dir=shared),
                BOARDS)))
    finally:
        env.cleanup()
        for q in qemus.values():
            q.stop()
    for b, run in runs.items():
        assert run.stopped == "the run's end line" and run.status == 0, (b, run.stopped, run.stderr)
        check_run(run.summary, b, "fixture")
        captures[("fixture", b)] = run.capture.read_bytes()

    # `tickscope capture` from both places' ports at once.
    import subprocess
    import time

    qemus = lab.boot_all()
    try:
        procs = {b: subprocess.Popen(
            [tickscope.binary, "capture", "--serial", f"tcp://127.0.0.1:{lab.ports[b]}", "--timeout", "60",
             "--emulation", "icount", "--label", f"capture-{b}", "--json", "--out", str(shared / f"capture-{b}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for b in BOARDS}
        time.sleep(1.5)
        for q in qemus.values():
            q.cont()
        for b, p in procs.items():
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, (b, out, err)
            summary = json.loads((shared / f"capture-{b}" / "summary.json").read_text())
            check_run(summary, b, "tickscope capture")
            captures[("capture", b)] = (shared / f"capture-{b}" / "capture.bin").read_bytes()
    finally:
        for q in qemus.values():
            q.stop()

    # Under icount a board's run is the same bytes whichever way it was read; the boards differ.
    for b in BOARDS:
        ways = {way: data for (way, bb), data in captures.items() if bb == b}
        first = ways["capture"]
        for way, data in ways.items():
            assert data == first, f"{b}: {way} read {len(data)} bytes, tickscope capture {len(first)}"
    assert captures[("capture", "board-a")] != captures[("capture", "board-b")]

    # Every reader's capture imported into the shared directory, concurrently, by label.
    def imp(key):
        way, b = key
        return key, tickscope.import_capture(captures[key], shared, f"{way}-{b}", emulation="icount")

    with ThreadPoolExecutor(4) as pool:
        for (way, b), run in pool.map(imp, [k for k in captures if k[0] in ("threads", "processes")]):
            assert run.status == 0, (way, b, run.stderr)
            check_run(run.summary, b, way)

    # Nothing was overwritten: each file still holds its own board's bytes.
    before = {p: digest(p) for p in shared.rglob("*") if p.is_file()}
    for (way, b), data in captures.items():
        if way in ("threads", "processes", "fixture"):
            assert (shared / f"{way}-{b}.bin").read_bytes() == data, (way, b)

    # A label used again is refused, by the reader's import and by `tickscope import` alike.
    with pytest.raises(CaptureExists):
        tickscope.import_capture(captures[("threads", "board-b")], shared, "threads-board-a")
    clash = tickscope.run("import", shared / "threads-board-b.bin", "--label", "again",
                          "--out", shared / "threads-board-a")
    assert clash.returncode == 2 and "already holds a run" in clash.stderr, clash.stderr
    assert {p: digest(p) for p in shared.rglob("*") if p.is_file()} == before


def test_twenty_concurrent_imports_give_twenty_correct_pairs(lab, tickscope, tmp_path):
    got = captures_by_threads(lab)
    shared = tmp_path / "shared"
    errors = []

    def pair(i):
        results = {}

        def one(b):
            results[b] = tickscope.import_capture(got[b][0], shared, f"rep{i}-{b}", emulation="icount")

        threads = [threading.Thread(target=one, args=(b,)) for b in BOARDS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for b, run in results.items():
            try:
                assert run.status == 0, run.stderr
                check_run(run.summary, b, f"repetition {i}")
                assert run.capture.read_bytes() == got[b][0]
                assert (run.run_dir / "capture.bin").read_bytes() == got[b][0]
            except AssertionError as e:
                errors.append(f"repetition {i}, {b}: {e}")

    for i in range(20):
        pair(i)
    assert not errors, errors
