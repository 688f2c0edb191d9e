"""What the released checkpoints expect as input: pre-extracted features of encoders facevoice lacks.

A checkpoint holds the head only; its inputs are features of external encoders (FaceNet, VGGFace,
an utterance-level speaker network) that the authors extracted and distributed as CSVs. The file
does not say which encoder it was trained on, so the import names it from the release family a
format and its input sizes identify (``--face-encoder`` / ``--voice-encoder`` override). No
facevoice encoder produces these features (none of those weights is available offline here): an
imported run scores vectors (CSV lists, bundles, stores), never raw media.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facevoice.interop.checkpoints.layout import Recognised

UTTERANCE_VOICE = (
    "utterance-level aggregation speaker network (Xie et al., ICASSP 2019; github.com/WeidiXie/VGG-Speaker-Recognition)"
)


@dataclass(frozen=True)
class Release:
    """A family of released checkpoints: where it comes from and the encoders of its input features."""

    name: str
    source: str
    format: str
    d_face: int
    d_voice: int
    face_encoder: str
    voice_encoder: str
    face_tag: str  # short names for run.json's input tags (``external:<name>``)
    voice_tag: str


RELEASES = (
    Release(
        name="SBNet (Saeed et al., ICASSP 2023), FOP loss",
        source="github.com/msaadsaeed/SBNet: ssnet_fop/final_models/fop_facenet_fc2_<order>/checkpoint.pth.tar",
        format="sbnet",
        d_face=512,
        d_voice=512,
        face_encoder="FaceNet (Schroff et al., CVPR 2015; github.com/davidsandberg/facenet)",
        voice_encoder=UTTERANCE_VOICE,
        face_tag="facenet",
        voice_tag="utterance-level-aggregation",
    ),
    Release(
        name="FOP (Saeed et al., ICASSP 2022), FAME / MAV-Celeb baseline",
        source="github.com/mavceleb/mavceleb_baseline: v{1,2,3}_models/<language>_fop_model/checkpoint.pth.tar",
        format="fop",
        d_face=4096,
        d_voice=512,
        face_encoder="VGGFace fc7 (Parkhi et al., BMVC 2015; the baseline's vggFaceFeat.py)",
        voice_encoder="utterance-level aggregation speaker network (Xie et al., ICASSP 2019; the baseline's "
        "uttLevelVoiceFeat.py)",
        face_tag="vggface-fc7",
        voice_tag="utterance-level-aggregation",
    ),
)


def find_release(rec: Recognised) -> Release | None:
    """The release family of this format and these input sizes, if facevoice knows one."""
    return next((r for r in RELEASES if (r.format, r.d_face, r.d_voice) == (rec.format, rec.d_face, rec.d_voice)), None)


def input_record(rec: Recognised, face_encoder: str | None = None, voice_encoder: str | None = None) -> dict[str, Any]:
    """run.json's ``inputs``: per modality, external pre-extracted features and the encoder they come from.

    ``{"face"|"voice": {"kind": "features", "tag": "external:<name>", "dim", "expected_encoder",
    "facevoice_encoder": null}}``: ``kind`` and ``tag`` as for a run trained on feature CSVs (no
    registered encoder can embed raw media for it: a caller must supply vectors of ``dim``).
    """
    release = find_release(rec)
    given = {"face": face_encoder, "voice": voice_encoder}
    out: dict[str, Any] = {}
    for m, dim in (("face", rec.d_face), ("voice", rec.d_voice)):
        if given[m]:
            encoder, tag = str(given[m]), "given"
        elif release is not None:
            encoder, tag = getattr(release, f"{m}_encoder"), getattr(release, f"{m}_tag")
        else:
            encoder, tag = f"not recorded in the checkpoint (the encoder of its {m} training features)", "unknown"
        out[m] = {
            "kind": "features",
            "tag": f"external:{tag}",
            "dim": int(dim),
            "expected_encoder": encoder,
            "facevoice_encoder": None,
        }
    return out


def release_record(rec: Recognised) -> dict[str, Any]:
    """The release family for run.json's ``imported`` section (nulls when facevoice knows none)."""
    release = find_release(rec)
    return {"release": release.name if release else None, "release_source": release.source if release else None}
