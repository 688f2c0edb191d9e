"""A rich progress bar over the training steps, with the latest epoch's figures in its description."""

from __future__ import annotations

from typing import Any

from facevoice.core.log import get_logger

log = get_logger(__name__)


class EpochProgress:
    """Context manager: ``step()`` per optimiser step, ``end_epoch(record)`` per epoch.

    Disabled (no output besides one log line per epoch) when ``enabled`` is False.
    """

    def __init__(self, epochs: int, steps_per_epoch: int, enabled: bool = True) -> None:
        self.epochs, self.steps_per_epoch, self.enabled = epochs, steps_per_epoch, enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.epochs * self.steps_per_epoch)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance_to(self, epoch: int) -> None:
        """Mark ``epoch`` epochs as already done (after a resume)."""
        if self._progress is not None:
            self._progress.update(self._task, completed=epoch * self.steps_per_epoch)

    def step(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def end_epoch(self, record: dict[str, Any]) -> None:
        loss = record.get("train_loss", float("nan"))
        text = f"epoch {record['epoch']}/{self.epochs} loss {loss:.4f}"
        if "val_eer" in record:
            text += f" val EER {100 * record['val_eer']:.2f}%" + (" *" if record.get("best") else "")
        if self._progress is not None:
            self._progress.update(self._task, completed=record["epoch"] * self.steps_per_epoch, description=text)
        else:
            log.info(text)
