"""Seeded faults against the test suite: which ones does `pytest` catch? (prints a table)

Each mutant is a one-place source edit that a plausible bug could make (a sign, a dropped term, the
wrong checkpoint, a variance off by a factor). For every mutant the script copies ``src/`` and
``tests/`` to a temporary folder, applies the edit there (never to the checkout), runs the test
folders that cover that part of the code (or the whole suite with ``--full``) and records whether the
suite turned red, naming the first failing test. A mutant whose snippet no longer occurs exactly once
is reported ``stale`` (the code moved: update the list).

    python benchmarks/mutation_check.py                 # every mutant, its area's tests
    python benchmarks/mutation_check.py --only metrics  # one area
    python benchmarks/mutation_check.py --full          # the whole suite per mutant (slow)
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    area: str
    name: str
    file: str  # relative to src/facevoice
    find: str
    replace: str
    tests: tuple[str, ...]  # test paths relative to the repo


# the search layer's own tests and the app's upload tests (the browser test needs chromium)
SEARCH_TESTS = ("tests/search", "tests/app/test_app_uploads.py")

MUTANTS: tuple[Mutant, ...] = (
    # -- metrics ------------------------------------------------------------------------------------
    Mutant(
        "metrics",
        "EER reads FPR at the last point before the crossing (no interpolation)",
        "eval/metrics/binary.py",
        "t = d[a] / (d[a] - d[k])",
        "t = 0.0 * d[a] / (d[a] - d[k])",
        ("tests/eval",),
    ),
    Mutant(
        "metrics",
        "AUC counts ties as wins",
        "eval/metrics/binary.py",
        "u2 = int(np.sum(d_fp * (2 * tp_before + d_tp)))",
        "u2 = int(np.sum(d_fp * (2 * tp_before + 2 * d_tp)))",
        ("tests/eval",),
    ),
    Mutant(
        "metrics",
        "minDCF not normalised",
        "eval/metrics/binary.py",
        "        dcf = dcf / min(c_miss * p_target, c_fa * (1.0 - p_target))",
        "        dcf = dcf",
        ("tests/eval",),
    ),
    # -- losses ------------------------------------------------------------------------------------
    Mutant(
        "losses",
        "OPL ignores gamma",
        "losses/opl.py",
        "loss = (1.0 - pos_mean) + self.gamma * neg_mean",
        "loss = (1.0 - pos_mean) + neg_mean",
        ("tests/losses",),
    ),
    Mutant(
        "losses",
        "OPL keeps the diagonal as positives",
        "losses/opl.py",
        "pos = (same & ~eye).to(cos.dtype)",
        "pos = same.to(cos.dtype)",
        ("tests/losses",),
    ),
    Mutant(
        "losses",
        "center loss moves centres away from the features",
        "losses/center.py",
        "diff = self.centers[labels] - features.detach().to(self.centers.dtype)",
        "diff = features.detach().to(self.centers.dtype) - self.centers[labels]",
        ("tests/losses",),
    ),
    # -- simulator and oracle ----------------------------------------------------------------------
    Mutant(
        "simceleb",
        "shared latent drawn with twice the variance the oracle assumes",
        "simceleb/simulate.py",
        "shared = world.means[combo] + np.sqrt(var.s) *",
        "shared = world.means[combo] + np.sqrt(2 * var.s) *",
        ("tests/simceleb",),
    ),
    Mutant(
        "simceleb",
        "session offsets drawn with the noise variance",
        "simceleb/simulate.py",
        "face_sess = _normal(sess, var.c, n, n_vid, face_id.shape[1])",
        "face_sess = _normal(sess, var.eps, n, n_vid, face_id.shape[1])",
        ("tests/simceleb",),
    ),
    Mutant(
        "simceleb",
        "expression noise missing from voices",
        "simceleb/simulate.py",
        "[shared + np.sqrt(var.e) * rng.standard_normal((n, k)), _normal(rng, var.t, n, cfg.k_voice)]",
        "[shared + 0.0 * rng.standard_normal((n, k)), _normal(rng, var.t, n, cfg.k_voice)]",
        ("tests/simceleb",),
    ),
    # -- protocols -----------------------------------------------------------------------------------
    Mutant(
        "protocols",
        "constrained negatives ignore the constraint",
        "eval/protocols/builders.py",
        "        if attrs:\n            p_key, c_key",
        "        if False:\n            p_key, c_key",
        ("tests/eval",),
    ),
    Mutant(
        "protocols",
        "the positive is labelled 0",
        "eval/protocols/builders.py",
        "labels[:, 0] = 1",
        "labels[:, -1] = 1",
        ("tests/eval",),
    ),
    # -- media readers ----------------------------------------------------------------------------------
    Mutant(
        "media",
        "face crops one pixel larger than the box and margin ask for",
        "data/media/faces.py",
        "half = max(right - left, bottom - top) * (1.0 + margin) / 2.0",
        "half = max(right - left, bottom - top) * (1.0 + margin) / 2.0 + 1",
        ("tests/data",),
    ),
    Mutant(
        "media",
        "video frames not spread to the last frame",
        "data/media/io.py",
        "want = set(np.linspace(0, max(total - 1, 0)",
        "want = set(np.linspace(0, max(total - 2, 0)",
        ("tests/data",),
    ),
    # -- CCA baseline --------------------------------------------------------------------------------
    Mutant(
        "cca",
        "transform skips centring on the paired rows' mean",
        "backends/cca.py",
        "Z = self.pca_[modality].transform(np.asarray(X, dtype=np.float64)) - self.mean_[modality]",
        "Z = self.pca_[modality].transform(np.asarray(X, dtype=np.float64))",
        ("tests/backends", "tests/methods"),
    ),
    # -- the training engine: selection and resume --------------------------------------------------------
    Mutant(
        "train",
        "every epoch's weights saved as best",
        "train/trainer.py",
        'improved = bool(np.isfinite(metric) and metric < self.state["best_metric"])',
        "improved = bool(np.isfinite(metric))",
        ("tests/train",),
    ),
    Mutant(
        "train",
        "selection keeps the worst validation epoch",
        "train/trainer.py",
        'metric < self.state["best_metric"])',
        '-metric < self.state["best_metric"])',
        ("tests/train",),
    ),
    Mutant(
        "train",
        "resume does not restore the optimiser state",
        "train/trainer.py",
        '        self.optimizer.load_state_dict(state["optimizer"])\n',
        "",
        ("tests/train",),
    ),
    Mutant(
        "train",
        "resume does not restore the random states",
        "train/trainer.py",
        '        restore_rng(state["rng"], self.rng)\n',
        "",
        ("tests/train",),
    ),
    Mutant(
        "train",
        "a checkpoint save deletes the previous copy before the new one is in place",
        "runs/checkpoint.py",
        "    tmp.rename(folder)\n    if prev.exists():\n        shutil.rmtree(prev)",
        "    if prev.exists():\n        shutil.rmtree(prev)\n    tmp.rename(folder)",
        ("tests/train",),
    ),
    # -- training: selection and embedding -------------------------------------------------------------
    Mutant(
        "train",
        "train_and_embed embeds with the last checkpoint",
        "pipelines/run.py",
        'method = load_method(path, "best", device=device)',
        'method = load_method(path, "last", device=device)',
        ("tests/train",),
    ),
    Mutant(
        "train",
        "train_and_embed returns the voice rows reversed",
        "pipelines/run.py",
        'voice = embed_array(method, bundle.embeddings["voice"], "voice", device=device)',
        'voice = embed_array(method, bundle.embeddings["voice"], "voice", device=device)[::-1]',
        ("tests/train",),
    ),
    # -- training: the flat optimiser step and the deferred loss check ---------------------------------------
    Mutant(
        "train",
        "flat Adam step: second-moment bias correction one step late",
        "train/optim.py",
        "bias_correction2 = 1 - beta2**step",
        "bias_correction2 = 1 - beta2 ** (step + 1)",
        ("tests/train",),
    ),
    Mutant(
        "train",
        "flat step updates parameters that got no gradient this step",
        "train/optim.py",
        "if not all(self._got_grad) or not self._sync_state():",
        "if not self._sync_state():",
        ("tests/train",),
    ),
    Mutant(
        "train",
        "deferred loss check names the wrong step",
        "train/terms.py",
        "first = int((~finite).nonzero()[0, 0])",
        "first = int((~finite).nonzero()[-1, 0])",
        ("tests/train",),
    ),
    # -- the oracle and the PLDA back-end --------------------------------------------------------------
    Mutant(
        "oracle",
        "the oracle's face-voice cross term has the wrong sign",
        "simceleb/oracle.py",
        "self.cross = -P[:, 0, 1]",
        "self.cross = P[:, 0, 1]",
        ("tests/simceleb",),
    ),
    Mutant(
        "plda",
        "the back-end's marginal likelihoods drop their log-determinant",
        "backends/plda.py",
        "marg_const.append(-0.5 * (np.linalg.slogdet(S[blk, blk])[1] + k * np.log(2 * np.pi)))",
        "marg_const.append(-0.5 * (k * np.log(2 * np.pi)))",
        ("tests/backends",),
    ),
    # -- the search index --------------------------------------------------------------------------------
    Mutant(
        "search",
        "items added to an existing index get rows numbered from 0 (ids no longer match vectors)",
        "search/folder.py",
        '"row": np.arange(rows.start, rows.stop, dtype=np.int64),',
        '"row": np.arange(0, len(rows), dtype=np.int64),',
        SEARCH_TESTS,
    ),
    Mutant(
        "search",
        "cached identity rows kept after an add",
        "search/folder.py",
        "self._ids, self._by_identity, self._columns = None, None, None",
        "self._ids, self._columns = None, None",
        SEARCH_TESTS,
    ),
    Mutant(
        "search",
        "the flat index ranks by L2 distance instead of inner product",
        "search/index.py",
        "index = faiss.IndexFlatIP(dim)",
        "index = faiss.IndexFlatL2(dim)",
        SEARCH_TESTS,
    ),
    Mutant(
        "search",
        "HNSW searches with ef = k, not the recorded ef_search",
        "search/index.py",
        'efSearch=max(self.params["ef_search"], kk)',
        "efSearch=kk",
        SEARCH_TESTS,
    ),
    Mutant(
        "search",
        "hits listed worst first",
        "search/searcher.py",
        "for j, (sc, row) in enumerate(zip(s[:top_k], r[:top_k], strict=True))",
        "for j, (sc, row) in enumerate(zip(s[:top_k][::-1], r[:top_k][::-1], strict=True))",
        SEARCH_TESTS,
    ),
    Mutant(
        "search",
        "the per-identity mean aggregate takes the best item",
        "search/searcher.py",
        'value = float(s.max() if aggregate == "best" else s.mean())',
        "value = float(s.max())",
        SEARCH_TESTS,
    ),
    Mutant(
        "search",
        "a query through another run's weights is not refused",
        "search/searcher.py",
        'if sha != rec.get("weights_sha256"):',
        'if sha != rec.get("weights_sha256") and False:',
        SEARCH_TESTS,
    ),
)


def _code_only(source: str) -> str:
    """The AST of ``source`` without docstrings (comments are gone already): a mutant must change it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def apply(mutant: Mutant, root: Path) -> str | None:
    """Apply ``mutant`` under ``root`` (a copy); return None, or why it could not be applied."""
    path = root / "src" / "facevoice" / mutant.file
    text = path.read_text()
    count = text.count(mutant.find)
    if count != 1:
        return f"stale: snippet found {count} times in {mutant.file}"
    mutated = text.replace(mutant.find, mutant.replace)
    if _code_only(mutated) == _code_only(text):
        return f"stale: the edit in {mutant.file} changes only a docstring or comment"
    text = mutated
    path.write_text(text)
    return None


def _copy_repo(tmp: str) -> Path:
    """The checkout's tracked-by-purpose parts under ``tmp/repo`` (tests load helpers from ``benchmarks/``),
    with ``../shared`` linked beside it as the tests expect."""
    root = Path(tmp) / "repo"
    (Path(tmp) / "shared").symlink_to(REPO.parent / "shared")
    for part in ("src", "tests", "benchmarks"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def _pytest(root: Path, targets: list[str], timeout: int) -> tuple[str, str, float]:
    """("passed" | "failed" | "timeout", first failing test, seconds) of the suite at ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *targets]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"> {timeout} s", time.perf_counter() - t0
    wall = time.perf_counter() - t0
    if out.returncode == 0:
        return "passed", "", wall
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out.stdout, flags=re.M)
    return "failed", failed[0] if failed else f"exit {out.returncode}", wall


def check_unmutated(targets: list[str], timeout: int) -> tuple[str, str, float]:
    """The same copy without a mutant must pass, or a "caught" would only mean the copy is broken."""
    with tempfile.TemporaryDirectory(prefix="facevoice-unmutated-") as tmp:
        return _pytest(_copy_repo(tmp), targets, timeout)


def run_one(mutant: Mutant, full: bool, timeout: int) -> tuple[str, str, float]:
    with tempfile.TemporaryDirectory(prefix="facevoice-mutant-") as tmp:
        root = _copy_repo(tmp)
        problem = apply(mutant, root)
        if problem:
            return "stale", problem, 0.0
        status, detail, wall = _pytest(root, ["tests"] if full else list(mutant.tests), timeout)
        return {"passed": "SURVIVED", "failed": "caught"}.get(status, status), detail, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run the mutants of one area (metrics, losses, simceleb, ...)")
    ap.add_argument("--full", action="store_true", help="run the whole suite for every mutant")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()
    if not (REPO.parent / "shared" / "data").is_dir():
        print("note: ../shared/data is missing beside the checkout; tests that need it will fail", file=sys.stderr)
    chosen = [m for m in MUTANTS if not args.only or m.area == args.only]
    target_sets = sorted({("tests",) if args.full else m.tests for m in chosen})
    for targets in target_sets:
        status, detail, wall = check_unmutated(list(targets), args.timeout)
        print(f"unmutated copy, {' '.join(targets)}: {status} {detail} ({wall:.0f} s)", flush=True)
        if status != "passed":
            sys.exit(f"the unmutated copy fails {' '.join(targets)} ({detail}): fix the suite or the copy first")
    print("| area | fault | result | first failing test | s |")
    print("|---|---|---|---|---|")
    counts: dict[str, int] = {}
    for m in chosen:
        status, detail, wall = run_one(m, args.full, args.timeout)
        counts[status] = counts.get(status, 0) + 1
        print(f"| {m.area} | {m.name} | {status} | {detail} | {wall:.0f} |", flush=True)
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
