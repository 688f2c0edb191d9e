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
    """ORL images are 92 x 112 head-and-shoulders shots with the face in the middle: a detected box must be
    centred there and span a third to the whole of the width (not a corner, not the whole frame)."""
    files = [shared_data / "orl_faces" / f"s{i}" / "1.pgm" for i in range(1, 9)]
    found = 0
    for f in files:
        img = load_image(f)
        boxes = detect_faces(img)
        if boxes:
            found += 1
            left, top, right, bottom = boxes[0]
            h, w = img.shape[:2]
            assert 0 <= left < right <= w and 0 <= top < bottom <= h
            cx, cy = (left + right) / 2, (top + bottom) / 2
            assert w / 3 < cx < 2 * w / 3 and h / 4 < cy < 3 * h / 4, (f, boxes[0])
            assert w / 3 <= right - left <= w, (f, boxes[0])
    assert found >= 6


def test_crop_box_is_square_and_clipped():
    # every pixel holds its own coordinates, so a crop shows exactly which region it took
    yy, xx = np.mgrid[0:100, 0:80]
    img = np.stack([yy, xx, np.zeros_like(yy)], axis=-1).astype(np.uint8)
    # box 40 x 40 centred at (40, 50), margin 0.5 -> a 60 x 60 square centred there: x 10..70, y 20..80
    crop = crop_box(img, (20, 30, 60, 70), margin=0.5)
    np.testing.assert_array_equal(crop, img[20:80, 10:70])
    # centred at (20, 20): x and y -10..50, clipped to the image: 0..50
    edge = crop_box(img, (0, 0, 40, 40), margin=0.5)
    np.testing.assert_array_equal(edge, img[0:50, 0:50])


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
