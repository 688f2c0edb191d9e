"""The bad-input catalogue end to end (docs/real-data.md): prepare -> extract (resemblyzer, dlib-face) -> bundle on
a folder of real media and deliberately broken files. Every entry ends up embedded in the bundle or in its
skipped.csv with the catalogued stage and reason, and a detail naming the file; nothing raises."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.data.media.io import load_audio
from facevoice.data.media.speech import level_db

EMBEDDED = "embedded"


def _speech(shared, names, sr=16000):
    return np.concatenate([load_audio(shared / "fsdd_voices" / n, sr) for n in names])


def build_corpus(root, shared) -> dict[str, tuple[str, str]]:
    """Write the broken-media corpus; return {relative path: (stage, reason)} (stage "" for embedded files)."""
    fsdd, orl = shared / "fsdd_voices", shared / "orl_faces"
    expect: dict[str, tuple[str, str]] = {}
    for k, (speaker, face) in enumerate((("george", "s1"), ("jackson", "s2"), ("lucas", "s3"))):
        for d in range(3):
            rel = f"p{k}/voices/s{d}/{d}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(fsdd / f"{d}_{speaker}_0.wav", root / rel)
            expect[rel] = ("", EMBEDDED)
            rel = f"p{k}/faces/s{d}/{d + 1}.pgm"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(orl / face / f"{d + 1}.pgm", root / rel)
            expect[rel] = ("", "embedded_or_no_face")  # 92x112 ORL faces: dlib finds most after upsampling
    v, f = root / "p0" / "voices", root / "p0" / "faces"
    speech = _speech(shared, ["0_nicolas_1.wav", "1_nicolas_1.wav", "2_nicolas_1.wav"])
    rng = np.random.default_rng(0)

    def add(rel, stage, reason, data=None, write=None):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        if write is not None:
            write(path)
        expect[rel] = (stage, reason)

    add("p0/voices/empty.wav", "extract", "empty", b"")
    sf.write(root / "full.tmp.wav", np.tile(speech, 3), 16000, subtype="PCM_16")
    full = (root / "full.tmp.wav").read_bytes()
    (root / "full.tmp.wav").unlink()
    add("p0/voices/truncated.wav", "extract", "truncated", full[: len(full) // 3])
    add("p0/voices/notes.wav", "extract", "unreadable", b"this is text, not audio\n" * 40)
    add("p0/voices/picture.wav", "extract", "unreadable", (shared / "orl_faces" / "s1" / "1.pgm").read_bytes())
    add("p0/voices/silent.wav", "extract", "silent", write=lambda p: sf.write(p, np.zeros(16000, np.float32), 16000))
    noise = (0.05 * rng.standard_normal(32000)).astype(np.float32)
    add("p0/voices/noise.wav", "extract", "silent", write=lambda p: sf.write(p, noise, 16000))
    add("p0/voices/short.wav", "extract", "too_short", write=lambda p: sf.write(p, speech[:800], 16000))
    stereo = np.stack([speech, 0.5 * speech], axis=1)
    add("p0/voices/stereo_44k.wav", "", EMBEDDED, write=lambda p: sf.write(p, _resample(stereo, 16000, 44100), 44100))
    quiet = (speech * 10 ** ((-62.0 - level_db(speech)) / 20)).astype(np.float32)
    add("p0/voices/quiet.wav", "", EMBEDDED, write=lambda p: sf.write(p, quiet, 16000, subtype="PCM_16"))
    add("p0/voices/a/b/c/nested.wav", "", EMBEDDED, (fsdd / "3_george_0.wav").read_bytes())
    add("p0/voices/café_声音.wav", "", EMBEDDED, (fsdd / "4_george_0.wav").read_bytes())
    sf.write(root / "cut.tmp.flac", speech, 16000)
    flac = (root / "cut.tmp.flac").read_bytes()
    (root / "cut.tmp.flac").unlink()
    add("p0/voices/cut.flac", "extract", "unreadable", flac[: len(flac) // 2])
    os.symlink(root / "p0" / "voices" / "gone.wav", v / "dangling.wav")
    expect["p0/voices/dangling.wav"] = ("extract", "missing")
    os.mkfifo(v / "pipe.wav")
    expect["p0/voices/pipe.wav"] = ("extract", "unreadable")
    with open(os.fsencode(str(v)) + b"/latin1_\xe9.wav", "wb") as fh:
        fh.write((fsdd / "0_lucas_1.wav").read_bytes())
    expect["p0/voices/latin1_\\xe9.wav"] = ("prepare", "bad_name")
    add("p0/voices/.hidden.wav", "prepare", "hidden", (fsdd / "0_lucas_2.wav").read_bytes())
    os.symlink(v, v / "a" / "loop")
    expect["p0/voices/a/loop"] = ("prepare", "symlink_loop")
    add("p0/faces/empty.jpg", "extract", "empty", b"")
    add("p0/faces/cut.pgm", "extract", "unreadable", (shared / "orl_faces" / "s4" / "1.pgm").read_bytes()[:300])
    add("p0/faces/words.png", "extract", "unreadable", b"not an image" * 10)
    add("p0/faces/sound.jpg", "extract", "unreadable", (fsdd / "1_theo_0.wav").read_bytes())
    noise_img = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    add("p0/faces/no_face.png", "extract", "no_face", write=lambda p: _save_png(p, noise_img))
    os.symlink(shared / "orl_faces" / "s5", f / "linked")  # a symlinked sub-folder: followed
    for k in range(1, 11):
        expect[f"p0/faces/linked/{k}.pgm"] = ("", "embedded_or_no_face")
    add("README.txt", "prepare", "outside_layout", b"about this corpus")
    add("p1/notes.txt", "prepare", "outside_layout", b"x")
    add("p2/misc/clip.wav", "prepare", "outside_layout", (fsdd / "0_theo_0.wav").read_bytes())
    return expect


def _resample(x, sr_in, sr_out):
    import soxr

    return soxr.resample(x, sr_in, sr_out)


def _save_png(path, img):
    from PIL import Image

    Image.fromarray(img).save(path)


@pytest.fixture(scope="module")
def walked(tmp_path_factory, shared_data):
    tmp = tmp_path_factory.mktemp("catalogue")
    root = tmp / "corpus"
    root.mkdir()
    expect = build_corpus(root, shared_data)
    runner = CliRunner()
    steps = [
        ["prepare", "folder", str(root), "--out", str(tmp / "m.parquet"), "--split", "test"],
        ["extract", str(tmp / "m.parquet"), "-e", "resemblyzer", "-o", str(tmp / "voices"), "--no-progress"],
        ["extract", str(tmp / "m.parquet"), "-e", "dlib-face", "-o", str(tmp / "faces"), "--no-progress"],
        ["bundle", str(tmp / "m.parquet"), "--face", str(tmp / "faces"), "--voice", str(tmp / "voices")]
        + ["--out", str(tmp / "bundle")],
    ]
    for args in steps:
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output, res.exception)
    embedded = pd.read_parquet(tmp / "bundle" / "manifest.parquet")
    for store in ("voices", "faces"):  # each store's own report also lists every file it does not hold
        report = pd.read_csv(tmp / store / "skip_report.csv", keep_default_na=False)
        held = set(pd.read_parquet(tmp / "m.parquet").query(f"modality == '{store[:-1]}'")["path"])
        held -= set(report["path"])
        under = [rel for rel in expect if f"/{store}/" in f"/{rel}"]
        listed = {os.path.relpath(p, root) for p in report["path"]} | {os.path.relpath(p, root) for p in held}
        assert set(under) <= listed, set(under) - listed
    skipped = pd.read_csv(tmp / "bundle" / "skipped.csv", keep_default_na=False)
    return root, expect, embedded, skipped


def test_every_entry_is_embedded_or_skipped_with_its_reason(walked):
    root, expect, embedded, skipped = walked
    got = {str(os.path.relpath(p, root)): ("", EMBEDDED) for p in embedded["path"]}
    for rec in skipped.itertuples(index=False):
        rel = os.path.relpath(rec.path, str(root).replace("\\", "\\\\"))
        assert rel not in got, f"{rel} both embedded and skipped"
        got[rel] = (rec.stage, rec.reason)
    assert set(got) == set(expect), set(got) ^ set(expect)
    wrong = {}
    for rel, (stage, reason) in expect.items():
        have = got[rel]
        if reason == "embedded_or_no_face":
            ok = have in {("", EMBEDDED), ("extract", "no_face")}
        else:
            ok = have == (stage, reason)
        if not ok:
            wrong[rel] = (have, (stage, reason))
    assert not wrong, wrong
    faces = [r for r, v in expect.items() if v[1] == "embedded_or_no_face"]
    assert sum(got[r] == ("", EMBEDDED) for r in faces) >= len(faces) - 4  # dlib finds most ORL faces


def test_skip_details_name_the_file_and_the_problem(walked):
    root, _, _, skipped = walked
    assert (skipped["detail"].str.len() > 10).all()
    extract = skipped[skipped["stage"] == "extract"]
    names_file = [d.find(os.path.basename(p)) >= 0 or r in ("silent", "too_short", "no_face") for d, p, r in
                  zip(extract["detail"], extract["path"], extract["reason"], strict=True)]  # fmt: skip
    assert all(names_file)
    by_reason = dict(zip(extract["reason"], extract["detail"], strict=False))
    assert "header declares" in by_reason["truncated"] and "holds" in by_reason["truncated"]
    assert "no speech found" in by_reason["silent"] or "no signal" in by_reason["silent"]
