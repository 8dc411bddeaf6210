"""Paths shared by the tests: the repository and the committed CI baseline."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


@pytest.fixture(scope="session")
def ci_baseline(request):
    return request.config.getoption("--tickscope-baseline") or str(
        ROOT / "results/baselines/qemu-icount-noise-tick250.json"
    )
