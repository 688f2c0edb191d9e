"""dlib ResNet face descriptor (``face-recognition-models`` weights, 128-d) as a face encoder.

Pipeline per image (or per sampled video frame): HOG face detection (upsampled for small images),
5-point (or 68-point) landmarks, aligned 150×150 chip (``dlib.get_face_chip``), ResNet descriptor.
Video items average the descriptors of the frames where a face was found. With ``fallback="whole"``
an image without a detected face is aligned on the whole image (for pre-cropped face datasets) and
the item is noted ``face_source="whole_image"``.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.core.hashing import file_sha256
from facevoice.core.types import LoadedItem, SkipItem
from facevoice.data.media.faces import detect_faces
from facevoice.data.media.io import load_visual
from facevoice.encoders.base import ENCODERS, Encoder, EncoderOutput


def model_paths(landmarks: int = 5) -> tuple[Path, Path]:
    """(ResNet descriptor ``.dat``, landmark predictor ``.dat``) shipped by ``face_recognition_models``."""
    with warnings.catch_warnings():  # the package imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    if landmarks not in (5, 68):
        raise ValueError(f"landmarks must be 5 or 68, got {landmarks}")
    pose = frm.pose_predictor_five_point_model_location() if landmarks == 5 else frm.pose_predictor_model_location()
    return Path(frm.face_recognition_model_location()), Path(pose)


@ENCODERS.register("dlib-face")
class DlibFaceEncoder(Encoder):
    """dlib face recognition ResNet → 128-d descriptors (Euclidean distance < 0.6 ≈ same person).

    ``upsample``: HOG pyramid steps (``"auto"`` scales small images up); ``fallback``: ``"skip"`` or
    ``"whole"`` when no face is detected; ``detect_faces=False``: never detect, align on the whole
    image (datasets of tight face crops; same as every image falling back to ``whole``);
    ``num_jitters``: dlib's test-time augmentation (0 = off); ``padding``: context around the aligned
    chip; ``video_frames``: frames sampled from a video item.
    """

    name = "dlib-face"
    modality = "face"
    OPTIONS = {
        "upsample": "HOG detector upsampling: auto or 0-3 (default auto)",
        "fallback": "skip or whole, when no face is found (default skip)",
        "detect_faces": "true (default) or false (tight crops: align on the whole image)",
        "landmarks": "5 or 68 (default 5)",
        "num_jitters": "dlib test-time jitters, 0 = off (default 0)",
        "padding": "context around the aligned chip (default 0.25)",
        "video_frames": "frames sampled from a video (default 4)",
    }

    def __init__(
        self,
        upsample: int | str = "auto",
        fallback: str = "skip",
        landmarks: int = 5,
        num_jitters: int = 0,
        padding: float = 0.25,
        video_frames: int = 4,
        detect_faces: bool = True,
    ) -> None:
        import dlib

        if fallback not in ("skip", "whole"):
            raise ValueError(f"fallback must be 'skip' or 'whole', got {fallback!r}")
        if not isinstance(detect_faces, bool):
            raise ValueError(f"detect_faces must be true or false, got {detect_faces!r}")
        if upsample != "auto" and not (isinstance(upsample, int) and 0 <= upsample <= 3):
            raise ValueError(f"upsample must be 'auto' or an integer 0-3, got {upsample!r}")
        rec_path, pose_path = model_paths(landmarks)
        for p in (rec_path, pose_path):
            if not p.is_file():
                raise FileNotFoundError(f"dlib model file not found: {p} (install face-recognition-models)")
        self._dlib = dlib
        self.facerec = dlib.face_recognition_model_v1(str(rec_path))
        self._pose_path = pose_path
        self._local = threading.local()  # one landmark predictor per loading thread (dlib is not thread-safe)
        self.upsample, self.fallback, self.landmarks = upsample, fallback, landmarks
        self.detect = detect_faces
        self.num_jitters, self.padding, self.video_frames = int(num_jitters), float(padding), int(video_frames)
        h = hashlib.sha256()
        for p in (rec_path, pose_path):
            h.update(file_sha256(p).encode())
        self._hash = h.hexdigest()

    @property
    def dim(self) -> int:
        return 128

    @property
    def weights_hash(self) -> str:
        return self._hash

    def options(self) -> dict[str, Any]:
        return {
            "upsample": self.upsample if self.detect else None,
            "fallback": self.fallback if self.detect else "always_whole",
            "landmarks": self.landmarks,
            "jitters": self.num_jitters,
            "padding": self.padding,
            "video_frames": self.video_frames,
        }

    @property
    def predictor(self):
        """This thread's dlib landmark predictor."""
        pred = getattr(self._local, "predictor", None)
        if pred is None:
            pred = self._local.predictor = self._dlib.shape_predictor(str(self._pose_path))
        return pred

    def _chip(self, img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        rect = self._dlib.rectangle(box[0], box[1], box[2] - 1, box[3] - 1)
        shape = self.predictor(img, rect)
        return np.asarray(self._dlib.get_face_chip(img, shape, size=150, padding=self.padding), dtype=np.uint8)

    def load(self, path: str | Path) -> LoadedItem:
        """Image or video → aligned 150×150 chips ``[(150, 150, 3), ...]``; raises ``no_face``."""

        frames = [np.ascontiguousarray(f, dtype=np.uint8) for f in load_visual(path, self.video_frames)]
        if not self.detect:  # tight crops: align every frame on the whole image
            chips = [self._chip(f, (0, 0, f.shape[1], f.shape[0])) for f in frames]
            notes: dict[str, Any] = {"face_source": "whole_image"}
            if len(frames) > 1:
                notes["frames"] = f"{len(frames)}/{len(frames)}"
            return LoadedItem(chips, notes)
        chips = []
        for frame in frames:
            boxes = detect_faces(frame, self.upsample)
            if boxes:
                chips.append(self._chip(frame, boxes[0]))
        if chips:
            notes = {"face_source": "detected"}
            if len(frames) > 1:
                notes["frames"] = f"{len(chips)}/{len(frames)}"
            return LoadedItem(chips, notes)
        if self.fallback == "whole":
            h, w = frames[0].shape[:2]
            return LoadedItem([self._chip(frames[0], (0, 0, w, h))], {"face_source": "whole_image"})
        where = f"any of {len(frames)} frames" if len(frames) > 1 else "the image"
        raise SkipItem("no_face", f"no face found in {where} (upsample={self.upsample})")

    def encode(self, inputs: list[np.ndarray], layers: bool = False) -> EncoderOutput:
        """``B`` aligned chips ``(150, 150, 3)`` → ``(B, 128)`` descriptors (no per-layer outputs)."""
        if not inputs:
            return EncoderOutput(np.zeros((0, self.dim), np.float32), None)
        chips = [np.ascontiguousarray(c, dtype=np.uint8) for c in inputs]
        desc = self.facerec.compute_face_descriptor(chips, self.num_jitters)
        return EncoderOutput(np.asarray([np.asarray(d) for d in desc], dtype=np.float32), None)
