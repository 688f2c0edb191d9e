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


@pytest.fixture(scope="session")
def example_index(shared_data, tmp_path_factory) -> dict:
    """The ``make app`` example on a small gallery (3 ORL people, 3 FSDD speakers as distractors), built once
    per test session and shared by the pytest-xdist workers (a file lock guards it; every step resumes).

    ``$FACEVOICE_EXAMPLE`` points at an already built example instead (e.g. the full one, for screenshots).
    """
    import os

    from filelock import FileLock

    from facevoice.pipelines.example import build_example

    given = os.environ.get("FACEVOICE_EXAMPLE")
    if given:
        out = Path(given)
        return {"faces": str(out / "faces"), "voices": str(out / "voices"), "run": str(out / "run"), "root": out}
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the parent is per session under xdist
    out = root / "facevoice-example"
    with FileLock(str(out) + ".lock"):
        result = build_example(shared_data, out, progress=False, workers=1, distractors=3)
    return {**result, "root": out}
