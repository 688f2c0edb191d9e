"""Search on real media (../shared/data): the example run on the VoxCeleb1 sample, its encoders rebuilt
from the run, queries that work, and every kind of query that cannot be used."""

from __future__ import annotations

import json
import shutil

import av
import numpy as np
import pandas as pd
import pytest

from facevoice.data.manifest import read_manifest
from facevoice.pipelines.search import report_dict, search_index
from facevoice.runs.inputs import run_inputs
from facevoice.runs.media import MediaInputError, input_encoder
from facevoice.search import IndexFolder, Searcher

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def held_out(example_index):
    """Clips and frames of the held-out videos (test_seen) of the six VoxCeleb1 people."""
    m = read_manifest(example_index["root"] / "manifest.parquet")
    return m[m["split"] == "test_seen"].reset_index(drop=True)


def test_the_run_records_how_to_embed_media(example_index):
    inputs = run_inputs(example_index["run"])
    assert inputs["face"]["kind"] == "encoder" and inputs["face"]["build"]["name"] == "dlib-face"
    assert inputs["voice"]["kind"] == "encoder" and inputs["voice"]["encoder"] == "resemblyzer"
    assert input_encoder(example_index["run"], "voice").tag == inputs["voice"]["tag"]


def test_a_run_whose_encoder_cannot_be_rebuilt_is_refused(example_index, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(example_index["run"], run)
    info = json.loads((run / "run.json").read_text())
    info["inputs"]["face"]["build"]["options"] = {"fallback": "whole"}  # options other than the training ones
    info["inputs"]["voice"] = {"kind": "features", "tag": "fop-csv:voices.csv", "dim": 256}
    (run / "run.json").write_text(json.dumps(info))
    with pytest.raises(
        MediaInputError, match="came from encoder 'dlib-face:fallback=skip.*built here is 'dlib-face:fall"
    ):
        input_encoder(run, "face")
    with pytest.raises(MediaInputError, match=r"voice inputs are pre-extracted features \(fop-csv:voices.csv, 256-d\)"):
        input_encoder(run, "voice")


def test_media_embedded_for_a_query_equals_the_indexed_vector(example_index):
    """A gallery file queried as media lands exactly on its own indexed vector: same encoder, same projection."""
    searcher = Searcher(example_index["faces"])
    folder = IndexFolder.open(example_index["faces"])
    rows = folder.items.iloc[[0, len(folder.items) // 2, len(folder.items) - 1]]
    done, Z = searcher.embedder.embed_files(rows["path"].tolist(), "face")
    assert all(f.ok for f in done)
    np.testing.assert_allclose(Z, folder.index.reconstruct(rows["row"].to_numpy()), atol=1e-5)


def test_held_out_clips_find_their_faces_and_frames_find_their_voices(example_index, held_out):
    voices = held_out[held_out["modality"] == "voice"]
    faces = held_out[held_out["modality"] == "face"]
    _, found = search_index(example_index["faces"], _list(voices["path"]), top_k=3)
    assert all(r.ok for r in found) and len(found) == len(voices)
    top = [r.identities[0].identity for r in found]
    assert np.mean(np.asarray(top) == voices["identity"].to_numpy()) >= 0.9  # seen people, unheard clips
    assert all(h.path and h.item_id for r in found for h in r.hits)
    _, found = search_index(example_index["voices"], _list(faces["path"]), top_k=3)
    top = [r.identities[0].identity for r in found]
    assert np.mean(np.asarray(top) == faces["identity"].to_numpy()) >= 0.8


def _list(paths: pd.Series):
    import tempfile
    from pathlib import Path

    f = Path(tempfile.mkdtemp()) / "queries.txt"
    f.write_text("\n".join(paths) + "\n")
    return f


def test_a_video_answers_both_ways(example_index, shared_data, tmp_path):
    """An mp4 with a face and speech: its sound queries the faces, its frames query the voices."""
    import soundfile as sf
    from PIL import Image

    frame = Image.open(shared_data / "voxceleb1_sample/faces/A.J._Buckley/1.6/1zcIwhmdeo4/0000375.jpg").convert("RGB")
    pixels = np.asarray(frame.resize((320, 240)))
    wave, rate = sf.read(shared_data / "voxceleb1_sample/wav/id10001/1zcIwhmdeo4/00002.wav", dtype="float32")
    video = tmp_path / "talk.mp4"
    with av.open(str(video), "w") as c:
        vs = c.add_stream("mpeg4", rate=5)
        vs.width, vs.height, vs.pix_fmt = 320, 240, "yuv420p"
        aus = c.add_stream("aac", rate=rate)
        for _ in range(10):
            for p in vs.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        sound = av.AudioFrame.from_ndarray(wave[None, :], format="flt", layout="mono")
        sound.sample_rate = rate
        for p in [*aus.encode(sound), *aus.encode()]:
            c.mux(p)
    (face_hit,) = Searcher(example_index["faces"]).search_files([video], top_k=1)
    (voice_hit,) = Searcher(example_index["voices"]).search_files([video], top_k=1)
    assert face_hit.ok and voice_hit.ok, (face_hit.detail, voice_hit.detail)
    assert face_hit.modality == "voice" and voice_hit.modality == "face"
    assert face_hit.identities[0].identity == voice_hit.identities[0].identity == "id10001"


def test_unusable_queries_get_skip_records_and_json_stays_well_formed(example_index, shared_data, tmp_path):
    import soundfile as sf

    q = tmp_path / "queries"
    q.mkdir()
    good = shared_data / "voxceleb1_sample/wav/id10108/EtYu1IT8RzY/00001.wav"
    shutil.copy(good, q / "good.wav")
    shutil.copy(shared_data / "voxceleb1_sample/vggface/A.J._Buckley/a_j__buckley_00000003.jpg", q / "face.jpg")
    (q / "notes.txt").write_text("not media")
    (q / "empty.wav").write_bytes(b"")
    (q / "fake.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    sf.write(q / "silent.wav", np.zeros(3 * 16000, np.float32), 16000)
    shutil.copy(good, q / "good.jpg")  # a wav named .jpg: recognised by content
    listing = tmp_path / "list.txt"
    listing.write_text("queries/good.wav\nqueries/missing.wav\n# a comment\n")
    searcher, by_folder = search_index(example_index["faces"], q, top_k=2)
    _, by_list = search_index(searcher, listing, top_k=2)
    status = {r.query.rsplit("/", 1)[-1]: (r.status, r.reason) for r in by_folder + by_list}
    assert status == {
        "good.wav": ("ok", ""),
        "good.jpg": ("ok", ""),
        "face.jpg": ("skipped", "wrong_modality"),
        "notes.txt": ("skipped", "unreadable"),
        "empty.wav": ("skipped", "empty"),
        "fake.wav": ("skipped", "unreadable"),
        "silent.wav": ("skipped", "silent"),
        "missing.wav": ("skipped", "missing"),
    }
    for r in by_folder + by_list:
        if not r.ok:
            assert r.query.rsplit("/", 1)[-1] in r.detail  # the detail names the file
    doc = json.loads(json.dumps(report_dict(searcher, by_folder, 2, "best"), allow_nan=False))
    assert doc["n_queries"] == 7 and doc["n_ok"] == 2 and doc["n_skipped"] == 5
    assert {q["status"] for q in doc["queries"]} == {"ok", "skipped"}
