"""Run ``python -m facevoice ...`` as a real process and SIGKILL it at a random moment of its work.

The moment is random but reproducible: the seed comes from ``$FACEVOICE_KILL_SEED`` or is drawn
fresh, and every assertion message names it (rerun with ``FACEVOICE_KILL_SEED=<seed>`` to replay the
same delays; the process's own timing still varies with the machine's load).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import facevoice

SRC = Path(facevoice.__file__).resolve().parents[1]


def kill_rng() -> tuple[random.Random, int]:
    seed = int(os.environ.get("FACEVOICE_KILL_SEED") or int.from_bytes(os.urandom(4), "little"))
    return random.Random(seed), seed


def facevoice_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "facevoice", *args]


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    one = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore", "COLUMNS": "1000", **one}


def run_to_end(cmd: Sequence[str], log: Path, timeout: float = 300) -> str:
    """Run ``cmd`` to completion (it must succeed); returns its output."""
    with open(log, "w") as fh:
        proc = subprocess.run(list(cmd), env=_env(), stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    out = log.read_text()
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}"
    return out


def kill_during(
    cmd: Sequence[str],
    ready: Callable[[], bool],
    max_delay: float,
    rng: random.Random,
    log: Path,
    what: str,
    timeout: float = 300,
) -> float:
    """Start ``cmd``; once ``ready()`` holds, wait a random ``U(0, max_delay)`` seconds and SIGKILL it.

    Fails if the process ends by itself first (the run is too short for the kill to land in it).
    Returns the delay used.
    """
    delay = rng.uniform(0.0, max_delay)
    with open(log, "w") as fh:
        proc = subprocess.Popen(list(cmd), env=_env(), stdout=fh, stderr=subprocess.STDOUT)
        try:
            t0 = time.monotonic()
            while not ready():
                if proc.poll() is not None:
                    raise AssertionError(
                        f"{what}: the process ended ({proc.returncode}) before it was ready to be "
                        f"killed:\n{log.read_text()[-4000:]}"
                    )
                if time.monotonic() - t0 > timeout:
                    raise AssertionError(f"{what}: not ready after {timeout} s:\n{log.read_text()[-4000:]}")
                time.sleep(0.005)
            time.sleep(delay)
            if proc.poll() is not None:
                raise AssertionError(
                    f"{what}: the process finished ({proc.returncode}) before the kill "
                    f"{delay:.3f} s after it was ready; make the run longer"
                )
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"{what}: exit {proc.returncode}"
    return delay


def count_lines(path: Path) -> int:
    """Complete lines of a growing text file (0 if it does not exist yet)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0
