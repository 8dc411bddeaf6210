"""pytest plugin (entry point `tickscope`): fixtures for labgrid tests of tickscope runs.

- `tickscope`: the binary (`--tickscope PATH`, else `$TICKSCOPE`, else PATH).
- `tickscope_firmware_run(label, target="main")`: powers a labgrid target on (QEMU through
  TickscopeQEMUDriver, or a board's own power and console drivers), reads the firmware's run off
  its console until the run's last line, powers it off, writes `<label>.bin` and imports it as
  `<label>/`; returns a RunCapture. `target` is a target's name in the environment (a lab test
  parametrises over its boards) or a labgrid Target. Safe from several threads at once.
- `tickscope_probe_run(probe, args, label, target="main")`: runs the Linux probe on a booted
  target through its shell (`CommandProtocol`), fetches the capture (`FileTransferProtocol`) and
  imports it.

Captures and runs are named by label in the test's directory and never replaced: a second run
with a label already used there is an error (CaptureExists), so one board's figures cannot land
under another's name.

Use with labgrid's own plugin: `pytest --lg-env env-qemu.yaml tests/` (installed with `pip install
integrations/labgrid`, or, as this repository's tests do, imported by their conftest.py)."""

from pathlib import Path

import pytest

from .capture import Tickscope, file_name, labgrid_lock, read_run


def pytest_addoption(parser):
    group = parser.getgroup("tickscope")
    group.addoption("--tickscope", default=None, help="the tickscope binary")
    group.addoption("--tickscope-baseline", default=None, help="baseline for tickscope check")
    group.addoption("--tickscope-timeout", type=float, default=120.0, help="seconds a run may take")


@pytest.fixture(scope="session")
def tickscope(request):
    return Tickscope(request.config.getoption("--tickscope", default=None))


def resolve_target(env, target):
    """A labgrid Target from a name in `env` (or the Target itself)."""
    if not isinstance(target, str):
        return target
    with labgrid_lock:
        found = env.get_target(target)
    if found is None:
        names = ", ".join(env.config.get_targets()) or "none"
        raise LookupError(f"no target {target!r} in {env.config_file} (its targets: {names})")
    return found


def capture_firmware_run(target, timeout):
    """Powers `target` on, reads its run off the console, powers it off: (bytes, why it stopped,
    the power driver)."""
    with labgrid_lock:
        console = target.get_driver("ConsoleProtocol")
        power = target.get_driver("PowerProtocol")
        target.activate(console)
        power.on()
    try:
        data, why = read_run(console, timeout=timeout)
    finally:
        with labgrid_lock:
            power.off()
    return data, why, power


@pytest.fixture
def tickscope_firmware_run(env, tickscope, tmp_path, request):
    """Captures one firmware run from a target's console (see the module doc)."""
    timeout = request.config.getoption("--tickscope-timeout", default=120.0)

    def run(label="labgrid", emulation=None, target="main", out_dir=None):
        t = resolve_target(env, target)
        data, why, power = capture_firmware_run(t, timeout)
        qemu = None
        if hasattr(power, "qemu_bin"):
            qemu = tickscope.qemu_version(t.env.config.get_tool(power.qemu_bin))
        res = tickscope.import_capture(
            data, out_dir or tmp_path, label,
            emulation=emulation or ("icount" if qemu else "hardware"), qemu_version=qemu,
        )
        res.stopped = why
        res.exit_status = getattr(power, "exit_status", None)
        return res

    return run


@pytest.fixture
def tickscope_probe_run(env, tickscope, tmp_path):
    """Runs the Linux probe on a booted target and imports its capture (see the module doc)."""

    def run(probe="tickscope-probe", args=("mode=noise", "cores=1", "duration=10s"), label="probe",
            target="main", out_dir=None):
        t = resolve_target(env, target)
        remote = f"/tmp/tickscope-{file_name(label)}.bin"
        with labgrid_lock:
            shell = t.get_driver("CommandProtocol")
            _, _, code = shell.run(" ".join([probe, "--out", remote, *args]), timeout=600)
            files = t.get_driver("FileTransferProtocol")
            local = Path(tmp_path) / f"{file_name(label)}.probe"
            files.get(remote, str(local))
            shell.run(f"rm -f {remote}")
        res = tickscope.import_capture(local.read_bytes(), out_dir or tmp_path, label,
                                       emulation="hardware")
        local.unlink()
        res.probe_status = code
        return res

    return run
