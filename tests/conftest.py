"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Small models run far faster single-threaded, and `make test` runs two xdist workers on two cores.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch intra-op thread per test, restored afterwards (tests that change it cannot leak):
    on a shared 2-core machine thread pools spin against each other (a tiny fine-tuning run took
    46 s with 2 threads under load, 8.6 s with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; fails (never skips) with a clear message when it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"real test data not found at {SHARED_DATA}: clone facevoice with the shared/ folder beside it "
            "(../shared/data relative to the repository root)"
        )
    return SHARED_DATA
