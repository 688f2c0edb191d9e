"""Batch samplers for the three :attr:`Method.sampling` kinds.

Every sampler draws from one ``numpy.random.Generator`` that the trainer owns and checkpoints,
so an epoch's batches depend only on the generator state at its start (exact resume).

``paired``
    An epoch visits every training voice item once, in random order; each is paired with a face
    item of its identity drawn afresh every epoch. Batches of ``B``; a last batch smaller than 2
    is dropped (batch norm needs two rows).
``modality``
    ``ceil(Nf/B) + ceil(Nv/B)`` steps per epoch. The modality of each step comes from
    ``method.modality_schedule(epoch, n_epochs, step_in_epoch, steps_per_epoch)``. Each modality has
    its own shuffled stream that is reshuffled when exhausted. ``None`` (mixed order, SBNet's
    ``random``) gives *mixed* batches instead: faces and voices are pooled and shuffled together
    and each batch takes the next ``B`` of the pool whatever their modality (every item once per
    epoch; SBNet's reference code stacks and shuffles both sets), so batch norm sees both.
    ``"pairs"`` gives ``B // 2`` face–voice pairs: the next voices of the voice stream, each with
    a random face of its identity (SBNet's reference ``fvfv`` / ``vfvf`` rows), ``B`` rows in all.
``one_per_identity``
    ``ceil(Nv/B)`` steps per epoch; each step draws ``B`` distinct identities and one random face
    and voice item of each.

:class:`MethodBatches` is the trainer's batch source for a registered method: the sampler of its
``sampling`` kind, with the method's per-sample weights (``Method.sample_weights``) attached.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from facevoice.core.log import get_logger
from facevoice.methods.base import Batch, Method
from facevoice.train.data import TrainData

log = get_logger(__name__)

SAMPLING_KINDS = ("paired", "modality", "one_per_identity")


class Sampler:
    """Yields :class:`Batch` objects for one epoch; ``steps_per_epoch`` is fixed for the run."""

    def __init__(self, data: TrainData, batch_size: int, steps_per_epoch: int | None = None) -> None:
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2, got {batch_size}")
        self.data, self.batch_size = data, int(batch_size)
        self.steps_per_epoch = int(steps_per_epoch) if steps_per_epoch else self.natural_steps()

    def natural_steps(self) -> int:
        raise TypeError(f"{type(self).__name__} must define natural_steps")

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator, method: Method) -> Iterator[Batch]:
        raise TypeError(f"{type(self).__name__} must define epoch")


class PairedSampler(Sampler):
    def natural_steps(self) -> int:
        n = len(self.data.voice_labels)
        full, rest = divmod(n, self.batch_size)
        return max(1, full + (1 if rest >= 2 else 0))

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator, method: Method) -> Iterator[Batch]:
        d, B = self.data, self.batch_size
        n = len(d.voice_labels)
        S = self.steps_per_epoch
        natural = self.natural_steps()
        total = min(n, S * B) if natural >= S else S * B  # one pass, or more when asked
        order = np.concatenate([rng.permutation(n) for _ in range(math.ceil(total / n))])[:total]
        faces = d.random_member("face", d.voice_labels[order], rng)
        for s in range(self.steps_per_epoch):
            v = order[s * B : (s + 1) * B]
            if len(v) < 2:
                return
            yield d.paired_batch(faces[s * B : s * B + len(v)], v)


class ModalitySampler(Sampler):
    def natural_steps(self) -> int:
        B = self.batch_size
        return math.ceil(len(self.data.face_labels) / B) + math.ceil(len(self.data.voice_labels) / B)

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator, method: Method) -> Iterator[Batch]:
        d, B = self.data, self.batch_size
        sizes = {"face": len(d.face_labels), "voice": len(d.voice_labels)}
        streams = {m: rng.permutation(n) for m, n in sizes.items()}
        pos = {"face": 0, "voice": 0}
        n_pool, S = sizes["face"] + sizes["voice"], self.steps_per_epoch
        pool = np.concatenate([rng.permutation(n_pool) for _ in range(math.ceil(S * B / n_pool))])
        for s in range(S):
            modality = method.modality_schedule(epoch, n_epochs, s, S)
            if modality is None:  # mixed: the next B of the pooled, shuffled items (rows >= Nf are voices)
                rows = pool[s * B : (s + 1) * B]
                yield d.mixed_batch(rows[rows < sizes["face"]], rows[rows >= sizes["face"]] - sizes["face"])
                continue
            if modality == "pairs":
                voices = _take(streams, pos, "voice", sizes["voice"], max(1, B // 2), rng)
                yield d.paired_batch(d.random_member("face", d.voice_labels[voices], rng), voices)
                continue
            if modality not in sizes:
                raise ValueError(f"{type(method).__name__}.modality_schedule returned {modality!r}")
            yield d.modality_batch(modality, _take(streams, pos, modality, sizes[modality], B, rng))


def _take(streams: dict, pos: dict, modality: str, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """The next ``count`` rows of ``modality``'s shuffled stream (reshuffled when exhausted)."""
    if pos[modality] + min(count, n) > n:
        streams[modality], pos[modality] = rng.permutation(n), 0
    rows = streams[modality][pos[modality] : pos[modality] + count]
    pos[modality] += len(rows)
    return rows


class OnePerIdentitySampler(Sampler):
    def __init__(self, data: TrainData, batch_size: int, steps_per_epoch: int | None = None) -> None:
        if batch_size > data.n_classes:
            raise ValueError(
                f"sampling 'one_per_identity' needs batch_size <= number of training identities "
                f"({data.n_classes}), got {batch_size}"
            )
        super().__init__(data, batch_size, steps_per_epoch)

    def natural_steps(self) -> int:
        return max(1, math.ceil(len(self.data.voice_labels) / self.batch_size))

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator, method: Method) -> Iterator[Batch]:
        d = self.data
        for _ in range(self.steps_per_epoch):
            ids = rng.choice(d.n_classes, size=self.batch_size, replace=False)
            yield d.paired_batch(d.random_member("face", ids, rng), d.random_member("voice", ids, rng))


def make_sampler(kind: str, data: TrainData, batch_size: int, steps_per_epoch: int | None = None) -> Sampler:
    """The sampler for ``Method.sampling == kind``."""
    classes = {"paired": PairedSampler, "modality": ModalitySampler, "one_per_identity": OnePerIdentitySampler}
    if kind not in classes:
        raise ValueError(f"unknown sampling kind {kind!r}; valid: {list(SAMPLING_KINDS)}")
    return classes[kind](data, batch_size, steps_per_epoch)


class MethodBatches:
    """Batch source of a :class:`Method` (``Trainer``'s ``batches``): its sampler + its sample weights.

    ``batch_size`` defaults to the method's ``default_batch_size``; ``one_per_identity`` batches are
    capped at the number of training identities (with a warning).
    """

    def __init__(
        self, method: Method, data: TrainData, batch_size: int | None = None, steps_per_epoch: int | None = None
    ) -> None:
        batch_size = int(batch_size or method.default_batch_size)
        if method.sampling == "one_per_identity" and batch_size > data.n_classes:
            log.warning("batch_size %d > %d training identities: using %d", batch_size, data.n_classes, data.n_classes)
            batch_size = data.n_classes
        self.method = method
        self.sampler = make_sampler(method.sampling, data, batch_size, steps_per_epoch)
        self.steps_per_epoch = self.sampler.steps_per_epoch

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator) -> Iterator[Batch]:
        for batch in self.sampler.epoch(epoch, n_epochs, rng, self.method):
            weights = self.method.sample_weights(batch.labels)  # read after the previous step's hooks ran
            if weights is not None:
                batch.weights = weights
            yield batch

    @staticmethod
    def count(batch: Batch) -> int:
        return int(batch.labels.shape[0])
