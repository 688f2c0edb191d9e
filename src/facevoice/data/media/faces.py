"""Face detection (dlib HOG frontal detector, bundled with dlib: no model download) and cropping.

Small images are upsampled before detection (``upsample="auto"``). When no face is found, the caller
chooses: ``fallback="skip"`` raises a ``no_face`` skip, ``fallback="whole"`` uses the whole image as the
face (for pre-cropped face datasets) and records ``face_source="whole_image"`` for that item.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from facevoice.core.types import LoadedItem, SkipItem

Box = tuple[int, int, int, int]  # left, top, right, bottom (pixels, right/bottom exclusive)


_local = threading.local()


def _detector():
    """One HOG detector per thread: dlib's detector is not thread-safe (shared use segfaults)."""
    det = getattr(_local, "detector", None)
    if det is None:
        import dlib

        det = _local.detector = dlib.get_frontal_face_detector()
    return det


def auto_upsample(height: int, width: int, target: int = 90, max_up: int = 3) -> int:
    """Smallest number of 2× pyramid steps bringing the short side to ``target`` px (HOG finds faces ≥ 80 px)."""
    short = max(1, min(height, width))
    return int(min(max_up, max(0, math.ceil(math.log2(target / short)))))


def detect_faces(img: np.ndarray, upsample: int | str = "auto") -> list[Box]:
    """Faces in an RGB/grey ``uint8`` image ``(H, W[, 3])`` → boxes, largest first.

    ``upsample="auto"`` picks :func:`auto_upsample` and tries one more step if nothing is found.
    """
    det = _detector()
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    if upsample == "auto":
        first = auto_upsample(h, w)
        steps = [first, first + 1] if first < 3 else [first]
    else:
        steps = [int(upsample)]
    rects = []
    for up in steps:
        rects = list(det(img, up))
        if rects:
            break
    boxes = []
    for r in rects:
        box = (max(0, r.left()), max(0, r.top()), min(w, r.right() + 1), min(h, r.bottom() + 1))
        if box[2] > box[0] and box[3] > box[1]:
            boxes.append(box)
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def largest_face(img: np.ndarray, upsample: int | str = "auto", fallback: str = "skip") -> tuple[Box, str]:
    """The largest face box and its source (``"detected"`` or ``"whole_image"``); raises ``no_face``."""
    boxes = detect_faces(img, upsample)
    if boxes:
        return boxes[0], "detected"
    if fallback == "whole":
        return (0, 0, img.shape[1], img.shape[0]), "whole_image"
    raise SkipItem("no_face", f"no face found in a {img.shape[1]}x{img.shape[0]} image (upsample={upsample})")


def crop_box(img: np.ndarray, box: Box, margin: float = 0.25) -> np.ndarray:
    """Square crop around ``box`` enlarged by ``margin`` (fraction of its size), clipped to the image."""
    left, top, right, bottom = box
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    half = max(right - left, bottom - top) * (1.0 + margin) / 2.0
    h, w = img.shape[:2]
    x0, y0 = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    x1, y1 = min(w, int(round(cx + half))), min(h, int(round(cy + half)))
    return np.ascontiguousarray(img[y0:y1, x0:x1])


def face_crop(
    frames: list[np.ndarray], upsample: int | str = "auto", margin: float = 0.25, fallback: str = "skip"
) -> LoadedItem:
    """Crop the largest face of each frame; frames without a face are dropped.

    Returns ``LoadedItem(parts=crops, notes={"face_source": ..., "frames": n})``; if no frame has a
    face, uses the whole first frame (``fallback="whole"``) or raises ``SkipItem("no_face")``.
    """
    crops = []
    for frame in frames:
        boxes = detect_faces(frame, upsample)
        if boxes:
            crops.append(crop_box(frame, boxes[0], margin))
    if crops:
        notes = {"face_source": "detected"}
        if len(frames) > 1:
            notes["frames"] = f"{len(crops)}/{len(frames)}"
        return LoadedItem(crops, notes)
    if fallback == "whole":
        return LoadedItem([frames[0]], {"face_source": "whole_image"})
    where = f"any of {len(frames)} frames" if len(frames) > 1 else "the image"
    raise SkipItem("no_face", f"no face found in {where} (upsample={upsample})")
