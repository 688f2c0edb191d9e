"""The console entry point prints user errors as one line naming the problem (no traceback)."""

from __future__ import annotations

import sys

import pytest

from facevoice.cli import main


def _run(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, "argv", ["facevoice", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err


def test_user_error_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("FACEVOICE_DEBUG", raising=False)
    code, err = _run(monkeypatch, capsys, "test-lists", str(tmp_path / "norun"), "--test", "a=f.csv,v.csv")
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'norun'}: not a facevoice run directory")
    assert "Traceback" not in err and "FACEVOICE_DEBUG=1" in err


def test_debug_shows_the_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEVOICE_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["facevoice", "test-lists", str(tmp_path / "norun"), "--test", "a=f,v"])
    with pytest.raises(FileNotFoundError, match="not a facevoice run directory"):
        main()
