"""Face detection and cropping on real ORL faces; no-face images; the whole-image fallback."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.core.types import SkipItem
from facevoice.data.media.faces import auto_upsample, crop_box, detect_faces, face_crop
from facevoice.data.media.io import load_image


def test_auto_upsample_targets_small_images():
    assert auto_upsample(28, 23) == 2  # ORL copy: 23x28 px
    assert auto_upsample(112, 92) == 0
    assert auto_upsample(10, 10) == 3
    assert auto_upsample(1000, 800) == 0


def test_detects_orl_faces(shared_data):
    files = [shared_data / "orl_faces" / f"s{i}" / "1.pgm" for i in range(1, 9)]
    found = 0
    for f in files:
        img = load_image(f)
        boxes = detect_faces(img)
        if boxes:
            found += 1
            left, top, right, bottom = boxes[0]
            assert 0 <= left < right <= img.shape[1] and 0 <= top < bottom <= img.shape[0]
    assert found >= 6


def test_crop_box_is_square_and_clipped():
    img = np.zeros((100, 80, 3), np.uint8)
    crop = crop_box(img, (20, 30, 60, 70), margin=0.5)
    assert crop.shape == (60, 60, 3)
    edge = crop_box(img, (0, 0, 40, 40), margin=0.5)
    assert edge.shape[:2] == (50, 50)


def test_no_face_skip_and_fallback(shared_data):
    wall = np.full((120, 100, 3), 90, np.uint8)
    with pytest.raises(SkipItem) as err:
        face_crop([wall, wall], fallback="skip")
    assert err.value.reason == "no_face" and "2 frames" in err.value.detail
    item = face_crop([wall], fallback="whole")
    assert item.notes == {"face_source": "whole_image"} and item.parts[0].shape == wall.shape
    face = load_image(shared_data / "orl_faces" / "s1" / "1.pgm")
    mixed = face_crop([wall, face, wall])
    assert mixed.notes == {"face_source": "detected", "frames": "1/3"} and len(mixed.parts) == 1
