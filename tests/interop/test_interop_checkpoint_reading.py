"""Files that are not importable checkpoints: one clear line naming the file and what was found, no traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

from facevoice.cli import main
from facevoice.interop.checkpoints import CheckpointImportError, import_checkpoint, read_checkpoint
from reference.sbnet_checkpoint_reference import synthetic_sbnet_state


def _cli(monkeypatch, capsys, *argv):
    monkeypatch.delenv("FACEVOICE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["facevoice", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err


class Custom:  # a class a training script might pickle beside the weights
    pass


def _bad_files(tmp_path):
    release = synthetic_sbnet_state([8, 6, 6], 3)
    zipped = tmp_path / "good.pth.tar"
    torch.save({"epoch": 1, "state_dict": release}, zipped)
    files = {
        "empty": (b"", "empty file"),
        "text": (b"hello, this is not a checkpoint\n", r"not a PyTorch checkpoint .*starts with b.hell"),
        "truncated": (zipped.read_bytes()[:300], "corrupt or truncated PyTorch zip archive"),
    }
    out = {}
    for name, (data, msg) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, msg)
    torch.save(torch.nn.Linear(3, 2), tmp_path / "module.pt")  # a whole pickled module: code, refused
    out["module"] = (tmp_path / "module.pt", r"pickled Python objects \(torch.nn.modules.linear.Linear\)")
    torch.save({"state_dict": release, "args": Custom()}, tmp_path / "custom.pt")
    out["custom"] = (tmp_path / "custom.pt", r"pickled Python objects \(.*Custom\)")
    import pickle

    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))
    out["plain pickle"] = (tmp_path / "plain.pkl", r"a Python pickle, not a PyTorch checkpoint \(Unsupported operand")
    np.save(tmp_path / "array.npy", np.zeros(3))
    out["numpy"] = (tmp_path / "array.npy", "a numpy array file")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    out["list"] = (tmp_path / "list.pt", "expected a dict of tensors .*found a list")
    torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, tmp_path / "nostate.pt")
    out["no weights"] = (
        tmp_path / "nostate.pt",
        r"no state_dict of tensors, found top-level keys \[epoch, optimizer\]",
    )
    torch.save({"state_dict": {"encoder.weight": torch.zeros(4, 3)}}, tmp_path / "other.pt")
    out["other model"] = (
        tmp_path / "other.pt",
        r"not an FOP or SBNet checkpoint \(FOP: no face_branch\.fc1\.0\.weight; "
        r"SBNet: no embed_branch\.fc1\.0\.weight\); "
        r"found top-level keys \[state_dict\]; 1 tensor, e\.g\. encoder\.weight \(4, 3\)",
    )
    mixed = {**release, "face_branch.fc1.0.weight": torch.zeros(6, 8)}  # two formats' keys: neither fits
    torch.save({"state_dict": mixed}, tmp_path / "mixed.pt")
    out["mixed"] = (tmp_path / "mixed.pt", r"SBNet: unexpected face_branch\.fc1\.0\.weight")
    out["directory"] = (tmp_path, "is a directory")
    return out


def test_bad_files_are_named_in_one_line(tmp_path):
    for name, (path, msg) in _bad_files(tmp_path).items():
        with pytest.raises(CheckpointImportError, match=msg) as exc:
            read_checkpoint(path)
        text = str(exc.value)
        assert text.startswith(str(path)) and "\n" not in text and len(text) < 400, (name, text)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "missing.pth.tar")


def test_cli_prints_one_error_line(tmp_path, monkeypatch, capsys):
    files = _bad_files(tmp_path)
    for name in ("text", "module", "other model"):
        path, msg = files[name]
        code, err = _cli(monkeypatch, capsys, "import-checkpoint", str(path), "--out", str(tmp_path / "run"))
        lines = err.strip().splitlines()
        assert code == 1 and lines[0].startswith(f"error: {path}: ") and len(lines) == 2, err
        assert "Traceback" not in err
    assert not (tmp_path / "run" / "run.json").exists()


def test_weights_only_load_allows_script_flags_and_numpy_scalars(tmp_path):
    sd = synthetic_sbnet_state([8, 6, 6], 3)
    flags = argparse.Namespace(lr=1e-5, dim_embed=6, split_type="random")
    torch.save({"epoch": 9, "state_dict": sd, "args": flags, "best_eer": np.float64(0.25)}, tmp_path / "c.pt")
    _, rec, info = read_checkpoint(tmp_path / "c.pt")
    assert rec.format == "sbnet" and info["epoch"] == 9 and info["file_entries"] == {"best_eer": 0.25}


def test_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    sd = synthetic_sbnet_state([8, 6], 3)
    save_file(sd, str(tmp_path / "c.safetensors"))
    _, rec, info = read_checkpoint(tmp_path / "c.safetensors")
    assert rec.details["widths"] == [8, 6] and info["epoch"] is None
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(CheckpointImportError, match="not a readable safetensors file"):
        read_checkpoint(tmp_path / "bad.safetensors")


def test_reimport_is_idempotent_and_other_runs_are_kept(tmp_path):
    sd = synthetic_sbnet_state([8, 6, 6], 3)
    torch.save({"state_dict": OrderedDict(sd)}, tmp_path / "a.pt")
    torch.save({"state_dict": synthetic_sbnet_state([8, 6, 6], 3, seed=5)}, tmp_path / "b.pt")
    run = import_checkpoint(tmp_path / "a.pt", tmp_path / "run")
    first = json.loads((run / "run.json").read_text())
    import_checkpoint(tmp_path / "a.pt", tmp_path / "run")  # a re-run (e.g. after a kill) rewrites the same run
    assert json.loads((run / "run.json").read_text()) == first
    with pytest.raises(CheckpointImportError, match="already holds another run"):
        import_checkpoint(tmp_path / "b.pt", tmp_path / "run")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointImportError, match="exists and is not an imported run"):
        import_checkpoint(tmp_path / "a.pt", tmp_path / "busy")
    with pytest.raises(ValueError, match="format must be one of"):
        read_checkpoint(tmp_path / "a.pt", "tensorflow")
