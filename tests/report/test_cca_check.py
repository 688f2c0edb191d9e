"""The report's comparison with the CCA baseline names every headline column a method does not win."""

from __future__ import annotations

import numpy as np
import pandas as pd

from facevoice.report.benchmark import HEADLINE_COLUMNS, cca_check


def _row(method, **values):
    row = {col: 0.7 for col in HEADLINE_COLUMNS} | {"UU EER": 0.30, "SH EER": 0.20}
    return {"method": method, **row, **values}


def test_trailing_columns_listed_with_both_values():
    head = pd.DataFrame(
        [
            _row("cca", **{"UU EER": 0.35, "UU AUC": 0.69, "AUC GNA": 0.61}),
            _row("good", **{"UU EER": 0.25, "UU AUC": 0.80, "SH EER": 0.10, "AUC GNA": 0.70}),
            _row("weak", **{"UU EER": 0.28, "UU AUC": 0.80, "AUC GNA": 0.60, "SH EER": np.nan}),
            _row("oracle", **{"UU EER": 0.10}),
        ]
    )
    for col in HEADLINE_COLUMNS:  # "good" wins every other column by a margin
        if col not in ("UU EER", "UU AUC", "SH EER", "AUC GNA"):
            head.loc[head["method"] == "good", col] = 0.8
    checks = cca_check(head)
    assert set(checks) == {"good", "weak"}  # reference rows are not checked
    assert checks["good"]["trails_cca"] == {}
    assert checks["good"]["beats_cca_eer"] and checks["good"]["beats_cca_auc"]
    weak = checks["weak"]["trails_cca"]
    assert weak["AUC GNA"] == (0.60, 0.61)
    assert "SH EER" not in weak  # not measured: neither won nor lost
    assert weak["SH AUC"] == (0.7, 0.7)  # a tie is not a win
    assert "UU EER" not in weak and "UU AUC" not in weak


def test_no_cca_row_no_check():
    assert cca_check(pd.DataFrame([_row("good")])) == {}


def _trials(n_probes: int = 120):
    """Unseen-unheard v2f lists (random and GNA), one target and one non-target per probe."""
    rows = []
    for con in ("random", "GNA"):
        for p in range(n_probes):
            for label in (1, 0):
                rows.append(("test_unseen", "v2f", con, f"p{p}", label))
    return pd.DataFrame(rows, columns=["split", "direction", "constraint", "probe_id", "label"])


def test_paired_comparison_calls_better_tie_and_worse():
    from facevoice.report.paired import paired_markdown, paired_vs_cca

    trials = _trials()
    rng = np.random.default_rng(0)
    y = trials["label"].to_numpy()
    cca = y * 1.5 + rng.standard_normal(len(trials))
    strong = {k: y * 3.0 + rng.standard_normal(len(trials)) for k in (0, 1)}
    weak = {0: y * 0.0 + rng.standard_normal(len(trials))}
    scores = {"strong": strong, "same": {0: cca.copy()}, "weak": weak, "cca": {0: cca}, "oracle": {0: y * 9.0}}
    paired = paired_vs_cca(trials, scores, n_boot=300)
    got = {(r["method"], r["column"]): r["verdict"] for _, r in paired.iterrows()}
    assert got == {
        ("strong", "UU AUC"): "better",
        ("strong", "AUC GNA"): "better",
        ("same", "UU AUC"): "tie",
        ("same", "AUC GNA"): "tie",
        ("weak", "UU AUC"): "worse",
        ("weak", "AUC GNA"): "worse",
    }  # reference rows are not compared; columns without trials (seen-heard, G, N, A) are skipped
    strong_row = paired[(paired["method"] == "strong") & (paired["column"] == "UU AUC")].iloc[0]
    assert len(strong_row["per_seed"]) == 2 and strong_row["n_probes"] == 120 and strong_row["n_trials"] == 240
    text = paired_markdown(paired)
    assert "| strong | **better** +" in text and "| same | tie +0.0 [+0.0, +0.0]" in text
    head = pd.DataFrame([_row("cca"), _row("weak", **{"UU EER": 0.25})])
    check = cca_check(head, paired)
    assert check["weak"]["paired_verdicts"] == {"UU AUC": "worse", "AUC GNA": "worse"}
    assert paired_vs_cca(trials, {"strong": strong}).empty  # no CCA row, nothing to compare
