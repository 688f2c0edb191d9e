"""Readers for the feature and trial-list formats used in the face-voice field.

FOP-style feature CSVs (FOP, SBNet, PAEFF releases; METHODS.md §1)
    No header, one row per sample. Training CSVs: the feature columns followed by one label column
    (the identity); the face CSV and the voice CSV are row-aligned (row i of both is the same
    identity) and :func:`read_fop_features` checks that they are.
FOP / PAEFF verification lists (``{face,voice}_veriflist_test_<constraint>_<split>.csv``)
    Row i of the face file and row i of the voice file form trial i. The reference code never
    reads a label: it declares every even row (0-based) a same-identity trial and every odd row a
    different-identity trial ("row parity", METHODS.md §5). :func:`read_fop_verification_list`
    uses explicit identity labels (a last column in both files, same person = equal labels) by
    default and offers the reference convention as ``labels="parity"``; with neither available it
    raises instead of guessing.

Every malformed input raises :class:`FormatError` naming the file and the (1-based) line (the
parsing itself lives in :mod:`facevoice.data.formats.numeric_csv`). The
VoxCeleb1 / SSoS readers live in :mod:`facevoice.data.formats.vox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.data.formats.numeric_csv import FormatError, canonical_labels, read_feature_matrix, require_file

__all__ = [
    "FormatError",
    "FOPFeatures",
    "canonical_labels",
    "read_feature_matrix",
    "FOPVerificationList",
    "read_fop_features",
    "read_fop_verification_list",
]


@dataclass
class FOPFeatures:
    """Row-aligned training features: ``face (N, Df)``, ``voice (N, Dv)`` float32, ``labels (N,)`` str."""

    face: np.ndarray
    voice: np.ndarray
    labels: np.ndarray


def _check_rows(face_csv: Path, voice_csv: Path, n_face: int, n_voice: int) -> None:
    if n_face != n_voice:
        raise FormatError(
            f"{voice_csv}: {n_voice} rows but {face_csv} has {n_face}; face and voice CSVs must be row-aligned"
        )


def read_fop_features(
    face_csv: str | Path, voice_csv: str | Path, *, face_dim: int | None = None, voice_dim: int | None = None
) -> FOPFeatures:
    """Read a FOP-style pair of training feature CSVs (last column = identity label).

    Args:
        face_csv, voice_csv: headerless CSVs, one row per sample, row i of both the same identity.
        face_dim, voice_dim: expected feature sizes (e.g. 4096 and 512); checked when given.

    Returns:
        :class:`FOPFeatures` with ``face (N, Df)``, ``voice (N, Dv)``, ``labels (N,)``.

    Raises:
        FormatError: ragged rows, non-numeric values, different row counts, or a label that differs
            between the two files (the first such line is named, with the count).
    """
    face_csv, voice_csv = require_file(face_csv), require_file(voice_csv)
    Xf, lf = read_feature_matrix(face_csv, face_dim, True)
    Xv, lv = read_feature_matrix(voice_csv, voice_dim, True)
    _check_rows(face_csv, voice_csv, len(Xf), len(Xv))
    differ = lf != lv
    if differ.any():
        i = int(np.argmax(differ))
        raise FormatError(
            f"{voice_csv} line {i + 1}: label {str(lv[i])!r} differs from {face_csv} line {i + 1} label {str(lf[i])!r} "
            f"({int(differ.sum())} of {len(lf)} rows disagree; the files must be row-aligned)"
        )
    return FOPFeatures(Xf, Xv, lf)


@dataclass
class FOPVerificationList:
    """Trial i = (``voice[i]``, ``face[i]``) with ``labels[i]`` (1 = same person).

    ``face (T, Df)``, ``voice (T, Dv)`` float32, ``labels (T,)`` int8; ``label_source`` is
    ``"identity"``, ``"parity"`` or ``"key"`` (a key file's labels, with its ``trial_ids``);
    ``face_ids`` / ``voice_ids`` are the identity columns when the files have them;
    ``parity_agreement`` is the fraction of trials where the identity labels agree with the
    row-parity convention (None without identity columns).
    """

    face: np.ndarray
    voice: np.ndarray
    labels: np.ndarray
    label_source: str
    face_ids: np.ndarray | None = None
    voice_ids: np.ndarray | None = None
    parity_agreement: float | None = None
    trial_ids: np.ndarray | None = None  # from a key file (label_source "key")

    def as_trials(self) -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray], pd.DataFrame]:
        """Item ids ``f<i>`` / ``v<i>`` with their features and a v2f trial table for the evaluator."""
        n = len(self.labels)
        fids, vids = [f"f{i}" for i in range(n)], [f"v{i}" for i in range(n)]
        trials = pd.DataFrame(
            {"probe_id": vids, "candidate_id": fids, "label": self.labels.astype(np.int8), "direction": "v2f"}
        )
        return (fids, self.face), (vids, self.voice), trials


def read_fop_verification_list(
    face_csv: str | Path,
    voice_csv: str | Path,
    *,
    labels: str = "auto",
    face_dim: int | None = None,
    voice_dim: int | None = None,
) -> FOPVerificationList:
    """Read a FOP/PAEFF verification list pair (row i of both files = trial i).

    Args:
        labels: ``"auto"`` (default): identity labels when both files end in a label column
            (``face_dim``/``voice_dim`` decide when given; otherwise a last column that is
            non-numeric or all-integer is a label), else raise; ``"identity"``: require them;
            ``"parity"``: the reference convention, even 0-based row = same person.
        face_dim, voice_dim: expected feature sizes (e.g. 4096, 512).

    Returns:
        :class:`FOPVerificationList`.
    """
    if labels not in ("auto", "identity", "parity"):
        raise ValueError(f"labels must be 'auto', 'identity' or 'parity', got {labels!r}")
    face_csv, voice_csv = require_file(face_csv), require_file(voice_csv)
    want = True if labels == "identity" else None
    Xf, lf = read_feature_matrix(face_csv, face_dim, want)
    Xv, lv = read_feature_matrix(voice_csv, voice_dim, want)
    _check_rows(face_csv, voice_csv, len(Xf), len(Xv))
    if (lf is None) != (lv is None):
        has, lacks = (face_csv, voice_csv) if lf is not None else (voice_csv, face_csv)
        hint = "" if face_dim and voice_dim else " (or pass face_dim/voice_dim so the column counts decide)"
        raise FormatError(
            f"{has} ends in a label column but {lacks} does not; both files of a list need one, or neither{hint}"
        )
    parity = (np.arange(len(Xf)) % 2 == 0).astype(np.int8)
    if lf is None:
        if labels != "parity":
            raise FormatError(
                f"{face_csv}, {voice_csv}: no label column, so trial labels are unknown; ask for the FOP/PAEFF "
                "reference convention labels='parity' (even 0-based row = same person; in a recipe "
                "data.tests.<name>.labels: parity, on the command line --labels parity)"
            )
        return FOPVerificationList(Xf, Xv, parity, "parity")
    same = (lf == lv).astype(np.int8)
    agree = float(np.mean(same == parity))
    if labels == "parity":
        return FOPVerificationList(Xf, Xv, parity, "parity", lf, lv, agree)
    return FOPVerificationList(Xf, Xv, same, "identity", lf, lv, agree)
