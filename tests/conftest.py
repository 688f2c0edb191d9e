"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Small models run far faster single-threaded, and `make test` runs two xdist workers on two cores.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
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
