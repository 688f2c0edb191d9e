"""Evaluation protocols: verification trials, 1:N galleries and retrieval lists as one :class:`ProtocolSet`.

``builders`` draws the lists from a manifest (``sampling`` holds the seeded primitives), ``io``
reads and writes them as TSV, ``score_files`` reads and writes per-trial score files.
"""

from __future__ import annotations

from facevoice.eval.protocols.builders import (
    CONSTRAINTS,
    DIRECTIONS,
    build_galleries,
    build_retrieval,
    build_verification,
)
from facevoice.eval.protocols.io import (
    read_galleries,
    read_retrieval,
    read_trials,
    write_galleries,
    write_retrieval,
    write_trials,
)
from facevoice.eval.protocols.protocol_set import (
    KINDS,
    TEST_SPLITS,
    ProtocolError,
    ProtocolSet,
    build_protocols,
    make_protocol_folder,
)
from facevoice.eval.protocols.score_files import read_scores, write_scores

__all__ = [
    "CONSTRAINTS",
    "DIRECTIONS",
    "KINDS",
    "ProtocolError",
    "ProtocolSet",
    "TEST_SPLITS",
    "build_galleries",
    "build_protocols",
    "build_retrieval",
    "build_verification",
    "make_protocol_folder",
    "read_galleries",
    "read_retrieval",
    "read_scores",
    "read_trials",
    "write_galleries",
    "write_retrieval",
    "write_scores",
    "write_trials",
]
