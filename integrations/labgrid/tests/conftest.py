"""The plugin from this checkout (so `pytest --lg-env env-qemu.yaml tests` works without
installing it), and the paths the tests share: the repository and the committed CI baseline."""

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
