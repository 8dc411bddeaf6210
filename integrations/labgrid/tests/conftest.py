"""The plugin from this checkout (so `pytest --lg-env env-qemu.yaml tests` works without
installing it), and what the tests share: the repository, the committed CI baseline, and one
labgrid coordinator on 127.0.0.1 (labgrid connects a process to one coordinator, once)."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tickscope_labgrid.plugin import (  # noqa: E402,F401 - fixtures, by name
    tickscope,
    tickscope_firmware_run,
    tickscope_probe_run,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


@pytest.fixture(scope="session")
def ci_baseline(request):
    return request.config.getoption("--tickscope-baseline", default=None) or str(
        ROOT / "results/baselines/qemu-icount-noise-tick250.json"
    )


@pytest.fixture(scope="session")
def coordinator(tmp_path_factory):
    from lab import Coordinator

    c = Coordinator(tmp_path_factory.mktemp("coordinator"))
    os.environ["LG_COORDINATOR"] = c.address
    yield c
    c.stop()
