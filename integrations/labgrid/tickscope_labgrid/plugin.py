"""pytest plugin (entry point `tickscope`): fixtures for labgrid tests of tickscope runs.

- `tickscope`: the binary (`--tickscope PATH`, else `$TICKSCOPE`, else PATH).
- `tickscope_firmware_run`: powers the labgrid target on (QEMU through TickscopeQEMUDriver, or a
  board's own power and console drivers), reads the firmware's run off its console until the
  run's last line, powers it off, writes capture.bin and imports it; returns a RunCapture.
- `tickscope_probe_run(probe, args)`: runs the Linux probe on a booted target through its shell
  (`CommandProtocol`), fetches the capture (`FileTransferProtocol`) and imports it.

Use with labgrid's own plugin: `pytest --lg-env env-qemu.yaml tests/` (installed with `pip install
integrations/labgrid`, or, as this repository's tests do, imported by their conftest.py)."""

from pathlib import Path

import pytest

from .capture import Tickscope, read_run


def pytest_addoption(parser):
    group = parser.getgroup("tickscope")
    group.addoption("--tickscope", default=None, help="the tickscope binary")
    group.addoption("--tickscope-baseline", default=None, help="baseline for tickscope check")
    group.addoption("--tickscope-timeout", type=float, default=120.0, help="seconds a run may take")


@pytest.fixture(scope="session")
def tickscope(request):
    return Tickscope(request.config.getoption("--tickscope", default=None))


@pytest.fixture
def tickscope_firmware_run(target, tickscope, tmp_path, request):
    """Captures one firmware run from `target`'s console (see the module doc)."""

    def run(label="labgrid", emulation=None):
        console = target.get_driver("ConsoleProtocol")
        power = target.get_driver("PowerProtocol")
        target.activate(console)
        power.on()
        data, why = read_run(
            console, timeout=request.config.getoption("--tickscope-timeout", default=120.0)
        )
        power.off()
        qemu = None
        if hasattr(power, "qemu_bin"):
            qemu = tickscope.qemu_version(target.env.config.get_tool(power.qemu_bin))
        res = tickscope.import_capture(
            data, tmp_path, label, emulation=emulation or ("icount" if qemu else "hardware"),
            qemu_version=qemu,
        )
        res.stopped = why
        res.exit_status = getattr(power, "exit_status", None)
        return res

    return run


@pytest.fixture
def tickscope_probe_run(target, tickscope, tmp_path):
    """Runs the Linux probe on a booted target and imports its capture (see the module doc)."""

    def run(probe="tickscope-probe", args=("mode=noise", "cores=1", "duration=10s"), label="probe"):
        shell = target.get_driver("CommandProtocol")
        remote = "/tmp/tickscope-capture.bin"
        _, _, code = shell.run(" ".join([probe, "--out", remote, *args]), timeout=600)
        files = target.get_driver("FileTransferProtocol")
        local = Path(tmp_path) / "probe.bin"
        files.get(remote, str(local))
        res = tickscope.import_capture(local.read_bytes(), tmp_path, label, emulation="hardware")
        res.probe_status = code
        return res

    return run
