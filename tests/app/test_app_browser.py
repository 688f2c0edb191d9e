"""The app in a real browser: Debian's Chromium (headless) driven by selenium against the app on a free
localhost port. The faces and voices the page shows must be the library's search results, in order; a
non-media upload must be answered in the page. Needs `chromium` + `chromium-driver` (apt; `make test`
installs them) and fails, rather than skips, without them.

``$FACEVOICE_SCREENSHOTS=DIR`` also saves screenshots of the result pages there (docs/ uses them, taken
on the full example: ``FACEVOICE_EXAMPLE=example``).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from facevoice.data.manifest import read_manifest
from facevoice.search import Searcher

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # without these it keeps calling the (closed) network
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,2200",
)
INSTALL = "install them with: sudo apt-get install -y chromium chromium-driver (`make test` does it)"


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the browser test needs selenium: pip install 'facevoice[test]' (selenium>=4.51)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        missing = [n for n, p in (("chromium", chromium), ("chromedriver", driver_path)) if not p]
        pytest.fail(f"the browser test needs Debian's Chromium and its driver; missing {missing}: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="facevoice-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)  # a path: no driver download
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(example_index):
    from facevoice.app import launch_app

    demo, url = launch_app(
        [example_index["faces"], example_index["voices"]], host="127.0.0.1", port=free_port(), block=False
    )
    yield url.rstrip("/")
    demo.close()


def wait(driver, condition, timeout=90):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)


def css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def upload(driver, component: str, path: Path) -> None:
    """Put ``path`` into a gr.File (clearing what it held) and wait until the page lists it."""
    for button in css(driver, f"#{component} button[aria-label='Clear']"):
        button.click()
    wait(driver, lambda d: css(d, f"#{component} input[type=file]"))
    css(driver, f"#{component} input[type=file]")[0].send_keys(str(path))
    wait(driver, lambda d: css(d, f"#{component} td.filename[aria-label='{path.name}']"))


def search_and_wait(driver, prefix: str, expect: str) -> str:
    status = css(driver, f"#{prefix}-status")[0]
    before = status.text
    css(driver, f"#{prefix}-search")[0].click()
    wait(
        driver,
        lambda d: expect in css(d, f"#{prefix}-status")[0].text and css(d, f"#{prefix}-status")[0].text != before,
    )
    return css(driver, f"#{prefix}-status")[0].text


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - a localhost URL of the test's server
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def screenshot(driver, name: str) -> None:
    folder = os.environ.get("FACEVOICE_SCREENSHOTS")
    if folder:
        from PIL import Image

        Path(folder).mkdir(parents=True, exist_ok=True)
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
        shot.quantize(colors=256).save(Path(folder) / name, optimize=True)  # a third of the bytes, for docs/


def held_out_query(example_index, modality: str, top_k: int):
    """A clip or frame of a held-out video, and what the library's search returns for it."""
    manifest = read_manifest(Path(example_index["root"]) / "manifest.parquet")
    held = manifest[(manifest["split"] == "test_seen") & (manifest["modality"] == modality)]
    query = Path(held["path"].iloc[0])
    expected = Searcher(example_index["faces" if modality == "voice" else "voices"]).search_files([query], top_k)[0]
    assert expected.ok
    return query, expected


def test_voice_upload_shows_the_library_results_then_rejects_non_media(browser, app_url, example_index, tmp_path):
    from PIL import Image

    clip, expected = held_out_query(example_index, "voice", 10)

    browser.get(app_url)
    wait(browser, lambda d: css(d, "#v2f-upload input[type=file]"))
    assert "SEEN people" in css(browser, "#note")[0].text  # the page says what the example shows
    upload(browser, "v2f-upload", clip)
    status = search_and_wait(browser, "v2f", "closest")
    assert clip.name in status
    wait(browser, lambda d: len(css(d, "#v2f-gallery img")) >= len(expected.hits))
    captions = [e.text for e in css(browser, "#v2f-gallery figcaption, #v2f-gallery .caption-label")]
    assert captions[: len(expected.hits)] == [f"{h.rank}. {h.identity} · {h.score:.3f}" for h in expected.hits]
    table = css(browser, "#v2f-items")[0].text
    positions = [table.find(h.item_id.rsplit("/", 1)[-1]) for h in expected.hits]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)  # every item, in order
    for img, hit in list(zip(css(browser, "#v2f-gallery img"), expected.hits, strict=False))[:3]:
        code, data = fetch(img.get_attribute("src"))
        shown = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        original = np.asarray(Image.open(hit.path).convert("RGB"))  # small pictures are shown unscaled
        assert code == 200 and np.array_equal(shown, original), hit.path
    screenshot(browser, "app_voice_to_faces.png")

    # only files the app created are served: not the index's files by path, not other files
    for path in (expected.hits[0].path, "/etc/passwd"):
        assert fetch(f"{app_url}/gradio_api/file={path}")[0] in (403, 404)

    text = tmp_path / "notes.txt"
    text.write_text("this is not a voice")
    upload(browser, "v2f-upload", text)
    status = search_and_wait(browser, "v2f", "notes.txt")
    assert "notes.txt: not an image, audio or video file" in status
    assert str(tmp_path) not in status and "/tmp/gradio" not in status  # no server paths in the page


def test_face_upload_plays_the_library_voices(browser, app_url, example_index):
    from selenium.webdriver.common.by import By

    face, expected = held_out_query(example_index, "face", 5)

    browser.get(app_url)
    tab = "//button[@role='tab' and contains(., 'Face → voices')]"
    wait(browser, lambda d: [b for b in d.find_elements(By.XPATH, tab) if b.is_displayed()])
    next(b for b in browser.find_elements(By.XPATH, tab) if b.is_displayed()).click()
    wait(browser, lambda d: css(d, "#f2v-upload input[type=file]"))
    slider = css(browser, "#f2v-k input[type=number]")[0]
    slider.clear()
    slider.send_keys("5")
    upload(browser, "f2v-upload", face)
    search_and_wait(browser, "f2v", "closest")
    wait(
        browser,
        lambda d: all(css(d, f"#f2v-voice-{i}") and css(d, f"#f2v-voice-{i}")[0].is_displayed() for i in range(5)),
    )
    for i, hit in enumerate(expected.hits):
        label = css(browser, f"#f2v-voice-{i}")[0].text
        assert f"{hit.rank}. {hit.identity} · {hit.score:.3f} · {hit.item_id}" in label
    assert len(css(browser, "#f2v-voice-5")) == 0 or not css(browser, "#f2v-voice-5")[0].is_displayed()
    screenshot(browser, "app_face_to_voices.png")
