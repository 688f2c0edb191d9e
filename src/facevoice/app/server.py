"""The Gradio app: one tab per index (a face index answers voices, a voice index answers faces).

Security choices, all deliberate:

* binds 127.0.0.1 unless another host is asked for, and then prints :func:`host_warning`;
* uploads are bounded by size (also enforced by the server: ``max_file_size``) and audio duration, and
  checked for content (:func:`facevoice.app.uploads.check_upload`) before any decoding; problems are
  shown in the page;
* results are sent as decoded pictures and sound (not as file paths) read from the paths of the index's
  own items, so the server never serves a file of the machine by name and ``allowed_paths`` stays
  empty: only files Gradio itself created (uploads, rendered results) are reachable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.app.uploads import WHAT, UploadLimits, check_upload
from facevoice.core.log import get_logger
from facevoice.core.types import SkipItem
from facevoice.data.media.io import load_audio, load_visual
from facevoice.search.folder import IndexFolder
from facevoice.search.searcher import Searcher

log = get_logger(__name__)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_TOP_K = 20
MAX_PLAYERS = 10
DISPLAY_SIDE = 512
ITEM_HEADERS = ["rank", "identity", "score", "item"]
PRIVATE = {"api_visibility": "private"}  # the page's own endpoints, not a public API (no API page either)
IDENTITY_HEADERS = ["rank", "identity", "score", "items", "best item"]


def host_warning(host: str) -> str | None:
    """The warning printed when the app listens on anything but the loopback interface."""
    if host in LOOPBACK_HOSTS:
        return None
    return (
        f"warning: serving on {host}, not 127.0.0.1: anyone who can reach this machine there can query the "
        "index and see and hear its items (the app has no login); use --host 127.0.0.1 to keep it local"
    )


def display_image(path: str) -> Any:
    """An index item's picture as an RGB PIL image (video: its first frame), at most DISPLAY_SIDE px."""
    from PIL import Image

    frame = load_visual(path, n_frames=1)[0]
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8)).convert("RGB")
    if max(image.size) > DISPLAY_SIDE:
        image.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    return image


def display_audio(path: str, sample_rate: int = 16000) -> tuple[int, np.ndarray]:
    """An index item's sound as ``(rate, int16 samples)`` for an audio player."""
    wave = load_audio(path, sample_rate)
    return sample_rate, (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16)


def _describe_index(folder: IndexFolder) -> str:
    m = folder.meta
    run = m.get("run", {})
    return (
        f"**{folder.modality} index** `{folder.root.name}`: {m.get('n_items', 0):,} {folder.modality}s of "
        f"{m.get('n_identities', 0):,} identities, {m.get('kind')} search, run `{Path(str(run.get('path', ''))).name}` "
        f"({run.get('method')}, {run.get('which')} checkpoint)."
    )


def _error(text: str) -> str:
    return f"**Cannot search:** {text}"


def _query_problem(searcher: Searcher, path: str, limits: UploadLimits) -> tuple[str | None, Any]:
    """(message, result): the upload's problem, or the search result."""
    problem = check_upload(path, searcher.query_modality, limits)
    if problem:
        return problem, None
    result = searcher.search_files([path], top_k=MAX_TOP_K)[0]
    if not result.ok:  # never show the server's temporary path: only the file's name
        return result.detail.replace(str(path), Path(path).name) or result.reason, None
    return None, result


def _identity_rows(result, k: int) -> list[list[Any]]:
    return [[h.rank, h.identity, round(h.score, 4), h.n_items, h.best_item_id] for h in result.identities[:k]]


def build_app(searchers: Sequence[Searcher], limits: UploadLimits | None = None, top_k: int = 10) -> Any:
    """The Gradio Blocks for one face index and/or one voice index."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    limits = limits or UploadLimits()
    by_modality: dict[str, Searcher] = {}
    for s in searchers:
        if s.modality in by_modality:
            raise ValueError(
                f"two {s.modality} indexes ({by_modality[s.modality].folder.root}, {s.folder.root}): give one of each"
            )
        by_modality[s.modality] = s
    notes = list(dict.fromkeys(s.folder.meta.get("note", "") for s in searchers if s.folder.meta.get("note")))
    with gr.Blocks(title="facevoice search") as demo:
        gr.Markdown("# facevoice: voice → faces, face → voices")
        for note in notes:
            gr.Markdown(f"> {note}", elem_id="note")
        gr.Markdown("\n\n".join(_describe_index(s.folder) for s in searchers))
        gr.Markdown(
            f"Scores are cosine similarities in the run's embedding space. Uploads: at most {limits.max_mb:g} MB, "
            f"audio at most {limits.max_seconds:g} s."
        )
        with gr.Tabs():
            if "face" in by_modality:
                _voice_to_faces_tab(gr, by_modality["face"], limits, top_k)
            if "voice" in by_modality:
                _face_to_voices_tab(gr, by_modality["voice"], limits, top_k)
    return demo


def _voice_to_faces_tab(gr, searcher: Searcher, limits: UploadLimits, top_k: int) -> None:
    with gr.Tab("Voice → faces", id="v2f"):
        with gr.Row():
            upload = gr.File(label=f"Upload {WHAT['voice']}", type="filepath", elem_id="v2f-upload")
            record = gr.Audio(sources=["microphone"], type="filepath", label="or record a voice", elem_id="v2f-record")
        k = gr.Slider(1, MAX_TOP_K, value=min(top_k, MAX_TOP_K), step=1, label="top k", elem_id="v2f-k")
        button = gr.Button("Find faces", variant="primary", elem_id="v2f-search")
        status = gr.Markdown(elem_id="v2f-status")
        gallery = gr.Gallery(label="Top faces", columns=5, format="png", elem_id="v2f-gallery", allow_preview=True)
        identities = gr.Dataframe(
            headers=IDENTITY_HEADERS, label="Identities", interactive=False, elem_id="v2f-identities"
        )
        items = gr.Dataframe(headers=ITEM_HEADERS, label="Faces", interactive=False, elem_id="v2f-items")

        def run(upload_path, record_path, k_value):
            path = upload_path or record_path
            k_value = int(k_value)
            problem, result = _query_problem(searcher, path, limits)
            if problem:
                return _error(problem), [], [], []
            shown, rows = [], []
            for h in result.hits[:k_value]:
                try:
                    shown.append((display_image(h.path), f"{h.rank}. {h.identity} · {h.score:.3f}"))
                except SkipItem as skip:  # an indexed file removed since: say so in its slot
                    log.warning("cannot show %s: %s", h.item_id, skip)
                    continue
                rows.append([h.rank, h.identity, round(h.score, 4), h.item_id])
            text = (
                f"**{Path(path).name}**: the {len(rows)} closest of {searcher.folder.meta.get('n_items', 0):,} faces."
            )
            return text, shown, _identity_rows(result, k_value), rows

        button.click(run, inputs=[upload, record, k], outputs=[status, gallery, identities, items], **PRIVATE)


def _face_to_voices_tab(gr, searcher: Searcher, limits: UploadLimits, top_k: int) -> None:
    with gr.Tab("Face → voices", id="f2v"):
        upload = gr.File(label=f"Upload {WHAT['face']}", type="filepath", elem_id="f2v-upload")
        k = gr.Slider(1, MAX_PLAYERS, value=min(top_k, MAX_PLAYERS), step=1, label="top k", elem_id="f2v-k")
        button = gr.Button("Find voices", variant="primary", elem_id="f2v-search")
        status = gr.Markdown(elem_id="f2v-status")
        identities = gr.Dataframe(
            headers=IDENTITY_HEADERS, label="Identities", interactive=False, elem_id="f2v-identities"
        )
        players = [gr.Audio(visible=False, interactive=False, elem_id=f"f2v-voice-{i}") for i in range(MAX_PLAYERS)]

        def run(upload_path, k_value):
            k_value = int(k_value)
            problem, result = _query_problem(searcher, upload_path, limits)
            hidden = [gr.update(value=None, visible=False) for _ in players]
            if problem:
                return [_error(problem), [], *hidden]
            updates = list(hidden)
            for slot, h in enumerate(result.hits[:k_value]):
                try:
                    sound = display_audio(h.path)
                except SkipItem as skip:
                    log.warning("cannot play %s: %s", h.item_id, skip)
                    continue
                label = f"{h.rank}. {h.identity} · {h.score:.3f} · {h.item_id}"
                updates[slot] = gr.update(value=sound, label=label, visible=True)
            n = searcher.folder.meta.get("n_items", 0)
            text = f"**{Path(upload_path).name}**: the {min(k_value, len(result.hits))} closest of {n:,} voices."
            return [text, _identity_rows(result, k_value), *updates]

        button.click(run, inputs=[upload, k], outputs=[status, identities, *players], **PRIVATE)


def launch_app(
    indexes: Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    run: str | Path | None = None,
    device: str = "cpu",
    top_k: int = 10,
    limits: UploadLimits | None = None,
    block: bool = True,
) -> tuple[Any, str]:
    """Open the indexes and serve the app; returns ``(blocks, local url)`` (``block=False`` returns at once)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    if not indexes or len(indexes) > 2:
        raise ValueError(f"give one or two index folders (a face and/or a voice index), got {len(indexes)}")
    limits = limits or UploadLimits()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up requests, one INFO line each
    searchers = [Searcher(ix, run=run, device=device) for ix in indexes]
    for s in searchers:  # fail now, in one line, if a run cannot embed uploads (and load the encoders once)
        s.embedder.encoder(s.query_modality)
    warning = host_warning(host)
    if warning:
        log.warning(warning)
    demo = build_app(searchers, limits, top_k)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])  # no web-font download
    _, url, _ = demo.launch(
        server_name=host,
        server_port=int(port),
        max_file_size=int(limits.max_mb * 1e6),
        prevent_thread_lock=not block,
        share=False,
        quiet=not block,
        show_error=False,
        theme=theme,
        footer_links=["gradio", "settings"],
    )
    return demo, url
