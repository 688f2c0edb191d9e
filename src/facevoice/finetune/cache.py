"""Pre-processed encoder inputs cached on disk, keyed by item_id (one folder per modality).

Decoding media (m4a/mp4, resampling, face detection) is the slow part of end-to-end training, so
each item is loaded once with its encoder's ``load`` (which raises ``SkipItem`` for unusable files)
and stored as the model will read it:

* voice: the resampled mono waveform, float32 samples (``max_seconds`` applied by the encoder);
* face: every frame resized/cropped by the image processor to ``(S, S, 3)`` uint8 RGB (rescaling and
  normalisation happen at batch time, so a cached frame gives exactly the processor's output).

Layout: ``data.bin`` (raw, appended), ``index.parquet`` (item_id, start, count), ``skips.parquet``
(item_id, path, reason, detail) and ``meta.json`` (encoder tag, dtype, frame shape). A cache opened
for a different encoder tag is refused; a build only adds items that are neither stored nor skipped.

Kill safety: the index is the only authority on what ``data.bin`` holds. A build first cuts
``data.bin`` back to the end of the last indexed item (a killed build may have appended a partial
block, which would shift every later offset), appends, then replaces ``index.parquet``,
``skips.parquet`` and ``meta.json`` atomically; a build killed at any point leaves a readable cache
without the items it was adding, and the next build loads them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.core.files import write_atomic
from facevoice.core.log import get_logger
from facevoice.core.types import SkipItem

log = get_logger(__name__)


class InputCacheError(RuntimeError):
    """A cache folder is inconsistent or belongs to another encoder."""


class InputCache:
    """Cached model inputs of one modality; ``get(item_id)`` → list of parts (waveforms or frames)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        meta_path = self.root / "meta.json"
        if not meta_path.exists():
            raise InputCacheError(f"{self.root}: not an input cache (no meta.json)")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        self.dtype = np.dtype(self.meta["dtype"])
        self.part_shape = tuple(self.meta["part_shape"])  # () for variable-length audio
        idx_path = self.root / "index.parquet"
        self.index = pd.read_parquet(idx_path) if idx_path.exists() else _empty_index()
        sk_path = self.root / "skips.parquet"
        self.skips = pd.read_parquet(sk_path) if sk_path.exists() else _empty_skips()
        self._rows = {
            iid: (int(s), int(c)) for iid, s, c in self.index[["item_id", "start", "count"]].itertuples(False)
        }
        self._data: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_data"] = None  # data-loader workers reopen the memory map instead of copying it
        return state

    @property
    def tag(self) -> str:
        return str(self.meta["tag"])

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def ids(self) -> list[str]:
        return list(self._rows)

    def _array(self) -> np.ndarray:
        if self._data is None:
            path = self.root / "data.bin"
            n = path.stat().st_size // self.dtype.itemsize // max(1, int(np.prod(self.part_shape or (1,))))
            shape = (n, *self.part_shape) if self.part_shape else (n,)
            self._data = np.memmap(path, dtype=self.dtype, mode="r", shape=shape) if n else np.zeros(shape, self.dtype)
        return self._data

    def get(self, item_id: str) -> list[np.ndarray]:
        """Parts of one item: voice ``[wave (S,)]``; face ``[frame (H, W, 3)] * n_frames``."""
        if item_id not in self._rows:
            raise KeyError(f"{self.root}: item {item_id!r} is not cached (skipped or never built)")
        start, count = self._rows[item_id]
        arr = self._array()
        if self.part_shape:
            return [np.asarray(arr[start + k]) for k in range(count)]
        return [np.asarray(arr[start : start + count])]

    def n_parts(self, item_id: str) -> int:
        """Number of parts (frames) of an item (1 for audio)."""
        return 1 if not self.part_shape else self._rows[item_id][1]


def build_input_cache(
    root: str | Path, encoder: Any, items: pd.DataFrame, *, frame_processor: Any = None
) -> InputCache:
    """Load every manifest row of ``items`` (columns item_id, path) with ``encoder.load`` into ``root``.

    ``frame_processor``: for face encoders, the image processor whose resize/crop is applied before
    storing (rescale/normalise are left for batch time). Unusable files are recorded in skips with the
    encoder's reason code and logged; items already stored or skipped are not loaded again.
    """

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    is_face = encoder.modality == "face"
    meta_path = root / "meta.json"
    if meta_path.exists():
        existing = json.loads(meta_path.read_text())
        if existing["tag"] != encoder.tag:
            raise InputCacheError(
                f"{root}: built for encoder {existing['tag']!r}, not {encoder.tag!r}; use another cache folder"
            )
    cache = InputCache(root) if meta_path.exists() else None
    done = set(cache.ids()) | set(cache.skips["item_id"]) if cache is not None else set()
    todo = items[~items["item_id"].isin(done)]
    index = [cache.index] if cache is not None else []
    skips = [cache.skips] if cache is not None else []
    dtype = np.uint8 if is_face else np.float32
    part_shape: tuple[int, ...] = tuple(cache.part_shape) if cache is not None else ()
    new_rows, new_skips = [], []
    extent = 0  # bytes of data.bin that the index references
    if cache is not None and len(cache.index):
        per_part = int(np.prod(part_shape)) if is_face else 1
        extent = int((cache.index["start"] + cache.index["count"]).max()) * per_part * np.dtype(dtype).itemsize
    with open(root / "data.bin", "ab") as fh:
        fh.truncate(extent)
        fh.seek(extent)
        offset = fh.tell() // np.dtype(dtype).itemsize
        for item_id, path in todo[["item_id", "path"]].itertuples(False):
            try:
                parts = encoder.load(path).parts
                arrays = [_face_frame(p, frame_processor) for p in parts] if is_face else [_wave(parts[0])]
            except SkipItem as skip:
                new_skips.append({"item_id": item_id, "path": str(path), "reason": skip.reason, "detail": skip.detail})
                continue
            if is_face:
                shape = arrays[0].shape
                if part_shape and shape != part_shape:
                    raise InputCacheError(f"{path}: frame shape {shape} differs from the cache's {part_shape}")
                part_shape = shape
            block = np.stack(arrays) if is_face else arrays[0]
            fh.write(np.ascontiguousarray(block, dtype=dtype).tobytes())
            per_part = int(np.prod(part_shape)) if is_face else 1
            count = block.size // per_part
            new_rows.append({"item_id": item_id, "start": offset // per_part, "count": count})
            offset += block.size
    if new_skips:
        reasons = pd.Series([s["reason"] for s in new_skips]).value_counts().to_dict()
        log.warning("input cache %s: skipped %d item(s) %s, e.g. %s", root, len(new_skips), reasons, new_skips[0])
    _write_table(index + [pd.DataFrame(new_rows)], root / "index.parquet", _empty_index())
    _write_table(skips + [pd.DataFrame(new_skips)], root / "skips.parquet", _empty_skips())
    meta = {"tag": encoder.tag, "modality": encoder.modality, "dtype": np.dtype(dtype).str, "part_shape": part_shape}
    meta["sample_rate"] = getattr(encoder, "sample_rate", None)
    write_atomic(meta_path, json.dumps(meta, indent=1))
    return InputCache(root)


def _wave(wave: Any) -> np.ndarray:
    return np.asarray(wave, dtype=np.float32).reshape(-1)


def _face_frame(frame: Any, processor: Any) -> np.ndarray:
    """RGB ``(H, W, 3)`` → the processor's resized/cropped ``(S, S, 3)`` uint8 (no rescale/normalise)."""
    arr = np.asarray(frame, dtype=np.uint8)
    if processor is None:
        return arr
    from PIL import Image

    out = processor(
        images=[Image.fromarray(arr).convert("RGB")], do_rescale=False, do_normalize=False, return_tensors="np"
    )
    return np.clip(np.round(out["pixel_values"][0]), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def _write_table(parts: Iterable[pd.DataFrame], path: Path, empty: pd.DataFrame) -> None:
    frames = [p for p in parts if len(p)]
    df = pd.concat(frames, ignore_index=True) if frames else empty
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": pd.Series(dtype=str), "start": pd.Series(dtype="int64"), "count": pd.Series(dtype="int64")}
    )


def _empty_skips() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=str) for c in ("item_id", "path", "reason", "detail")})
