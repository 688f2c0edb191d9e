"""Kill a process at a chosen file operation: the deterministic half of the "kill anywhere" tests.

:func:`killed_at` forks; the child counts every file operation facevoice's writers perform (renames,
replaces, folder removals and creations, file writes, safetensors saves, appends) and SIGKILLs itself
at the ``k``-th *event*: each operation is one event "just before it", and each write is a second
event "halfway through it" (half the bytes on disk, then the kill), the torn file a kill inside a
write leaves. The parent then inspects what is on disk. Nothing here touches production code: the
operations are intercepted in the child only, where they are patched before the call under test.

Forking a process that has imported torch is safe here because the tests run torch single-threaded
(tests/conftest.py), so no thread pool is copied mid-operation.
"""

from __future__ import annotations

import builtins
import os
import pathlib
import shutil
import signal
from collections.abc import Callable
from typing import Any


class _Counter:
    def __init__(self, kill_at: int) -> None:
        self.kill_at, self.n = kill_at, 0

    def event(self) -> None:
        self.n += 1
        if self.n == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _install(counter: _Counter) -> None:
    """Patch the file operations (in this process only) so each one passes through ``counter``."""
    import safetensors.torch as st

    def before(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            counter.event()
            return fn(*args, **kwargs)

        return wrapped

    def torn_write(path: pathlib.Path, data: bytes) -> None:
        counter.event()  # killed before the write
        with builtins.open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            counter.event()  # killed halfway: a torn file on disk
            fh.write(data[len(data) // 2 :])

    def write_text(self: pathlib.Path, data: str, encoding: str | None = None, errors: Any = None, newline: Any = None):
        torn_write(self, data.encode(encoding or "utf-8"))
        return len(data)

    def write_bytes(self: pathlib.Path, data: bytes) -> int:
        torn_write(self, bytes(data))
        return len(data)

    def save_file(tensors: Any, filename: Any, metadata: Any = None) -> None:
        torn_write(pathlib.Path(filename), st.save(tensors, metadata=metadata))

    real_open = builtins.open

    class _TornAppend:
        """A file opened for appending whose writes can be cut in half."""

        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def write(self, text: str) -> int:
            counter.event()
            self.fh.write(text[: len(text) // 2])
            self.fh.flush()
            counter.event()
            return self.fh.write(text[len(text) // 2 :])

        def __enter__(self) -> _TornAppend:
            return self

        def __exit__(self, *exc: Any) -> None:
            self.fh.close()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.fh, name)

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        return _TornAppend(fh) if "a" in mode and "b" not in mode else fh

    pathlib.Path.write_text = write_text
    pathlib.Path.write_bytes = write_bytes
    pathlib.Path.rename = before(pathlib.Path.rename)
    pathlib.Path.replace = before(pathlib.Path.replace)
    pathlib.Path.mkdir = before(pathlib.Path.mkdir)
    shutil.rmtree = before(shutil.rmtree)
    st.save_file = save_file
    builtins.open = open_


def killed_at(k: int, fn: Callable[[], Any]) -> bool:
    """Run ``fn`` in a forked child killed at file-operation event ``k`` (1-based); True if it was killed,
    False if ``fn`` finished first (``k`` is past its last event). A child that fails otherwise raises."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        code = 0
        try:
            _install(_Counter(k))
            fn()
        except BaseException:  # noqa: BLE001 - report any failure to the parent through the exit code
            import traceback

            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL, f"child died of signal {os.WTERMSIG(status)}"
        return True
    assert os.WEXITSTATUS(status) == 0, f"the child failed before event {k} (exit {os.WEXITSTATUS(status)})"
    return False
