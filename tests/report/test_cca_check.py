"""The report's comparison with the CCA baseline names every headline column a method does not win."""

from __future__ import annotations

import numpy as np
import pandas as pd

from facevoice.report.benchmark_report import HEADLINE_COLUMNS, cca_check


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
