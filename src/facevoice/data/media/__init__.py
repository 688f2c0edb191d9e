"""Media I/O: audio, images and video frames by content (``io``), and face detection and cropping (``faces``).

Every reader raises :class:`facevoice.core.types.SkipItem` with a reason code naming the file, so
extraction records a skip instead of crashing.
"""

from __future__ import annotations

from facevoice.data.media.faces import crop_box, detect_faces, face_crop, largest_face
from facevoice.data.media.io import (
    AUDIO_EXTS,
    IMAGE_EXTS,
    VIDEO_EXTS,
    audio_level_db,
    check_file,
    load_audio,
    load_image,
    load_visual,
    read_video_frames,
)

__all__ = [
    "AUDIO_EXTS",
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "audio_level_db",
    "check_file",
    "crop_box",
    "detect_faces",
    "face_crop",
    "largest_face",
    "load_audio",
    "load_image",
    "load_visual",
    "read_video_frames",
]
