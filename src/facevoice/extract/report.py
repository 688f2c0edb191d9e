"""Progress display and the extraction report (``extract_report.json`` + ``skip_report.csv``)."""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from facevoice.data.corpora.folder import FACE_DIRS, VOICE_DIRS, prepare_skips_path
from facevoice.extract.plan import WorkItem


@contextlib.contextmanager
def progress_bar(total: int, label: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar with items/s; yields ``advance(n)``. Disabled → a no-op."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class _Rate(TextColumn):
        def render(self, task):  # items per second over the whole run
            from rich.text import Text

            speed = task.completed / task.elapsed if task.elapsed else 0.0
            return Text(f"{speed:.1f} items/s")

    cols = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(""),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*cols) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.advance(task, n)


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    tmp.replace(path)


def write_rank_report(out: Path, result: dict[str, Any]) -> None:
    """This process's counts and timings → ``out/extract_runs/rank<r>.json``."""
    d = Path(out) / "extract_runs"
    d.mkdir(exist_ok=True)
    _atomic_json(d / f"rank{int(result['rank']):03d}.json", result)


def read_notes(out: Path) -> dict[str, dict[str, Any]]:
    """Per-item notes written during extraction (``item_id → {face_source: ..., ...}``)."""
    notes: dict[str, dict[str, Any]] = {}
    for path in sorted((Path(out) / "extract_notes").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                notes[rec.pop("item_id")] = rec
    return notes


def prepare_records(manifest: Path | None, modality: str) -> list[dict[str, str]]:
    """The files ``prepare`` left out of ``manifest`` (its ``<stem>.skipped.csv``) that concern ``modality``:
    those under a face (voice) folder of the folder layout, and those under neither."""
    import pandas as pd

    if manifest is None:
        return []
    path = prepare_skips_path(manifest)
    if not path.is_file():
        return []
    own, other = (FACE_DIRS, VOICE_DIRS) if modality == "face" else (VOICE_DIRS, FACE_DIRS)
    out = []
    for rec in pd.read_csv(path, dtype=str, keep_default_na=False).to_dict(orient="records"):
        parts = set(Path(rec["path"]).parts)
        if parts & set(other) and not parts & set(own):
            continue
        out.append({"item_id": "", "path": rec["path"], "reason": rec["reason"], "detail": f"prepare: {rec['detail']}"})
    return out


def finish_report(
    out: Path, items: list[WorkItem], stores: dict[str, Any], prepared: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Summarise the store against the manifest: embedded, skipped (by reason), not yet done.

    Writes ``extract_report.json`` and ``skip_report.csv`` (item_id, path, reason, detail); skip records
    of items embedded later (e.g. a file fixed and re-run) are left out of the report. ``prepared``:
    files the preparer left out of the manifest (:func:`prepare_records`), listed too (empty item_id,
    detail ``prepare: ...``), so that every file of the corpus is either in the store or in this report.
    """
    import pandas as pd

    main = stores["main"]
    main.refresh()
    done = main.done_ids()
    if "layers" in stores:
        stores["layers"].refresh()
        done &= stores["layers"].done_ids()
    wanted = {i.item_id for i in items}
    skips: dict[str, dict[str, str]] = {}
    for rec in main.skips():
        if rec["item_id"] in wanted and rec["item_id"] not in done:
            skips[rec["item_id"]] = rec
    rows = list(prepared or []) + sorted(skips.values(), key=lambda r: r["item_id"])
    skip_df = pd.DataFrame(rows, columns=["item_id", "path", "reason", "detail"])
    tmp = Path(out) / f".skip_report.csv.{os.getpid()}.tmp"
    skip_df.to_csv(tmp, index=False)
    tmp.replace(Path(out) / "skip_report.csv")
    notes = read_notes(out)
    runs = [json.loads(p.read_text()) for p in sorted((Path(out) / "extract_runs").glob("rank*.json"))]
    report = {
        "encoder_tag": main.encoder_tag,
        "items": len(wanted),
        "embedded": len(done & wanted),
        "skipped": len(skips),
        "pending": len(wanted - done - set(skips)),
        "skip_reasons": dict(Counter(r["reason"] for r in skips.values())),
        "left_out_by_prepare": dict(Counter(r["reason"] for r in prepared or [])),
        "face_source": dict(Counter(n["face_source"] for k, n in notes.items() if "face_source" in n and k in done)),
        "last_run": runs,
    }
    _atomic_json(Path(out) / "extract_report.json", report)
    return report
