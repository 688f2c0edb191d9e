import numpy as np
import pandas as pd
from PIL import Image

from facevoice.report.figures import det_figure, one_to_n_figure, roc_figure


def test_figures_are_written_as_images(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 200)
    systems = {
        "good": (labels * 2.0 + rng.normal(size=400), labels),
        "chance": (rng.normal(size=400), labels),
    }
    table = pd.DataFrame(
        [
            dict(system=s, direction=d, n=n, accuracy=a / n, std=0.01)
            for s, a in (("good", 1.8), ("chance", 1.0))
            for d in ("v2f", "f2v")
            for n in range(2, 11)
        ]
    )
    for fn, arg, name in (
        (roc_figure, systems, "roc.png"),
        (det_figure, systems, "det.png"),
        (one_to_n_figure, table, "n.png"),
    ):
        path = fn(arg, tmp_path / "fig" / name)
        with Image.open(path) as img:
            assert img.size[0] > 300 and img.size[1] > 300
            # not a blank canvas: several distinct colours were drawn
            assert len(set(img.convert("RGB").getdata())) > 20
