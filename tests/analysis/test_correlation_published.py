"""The correlation study reproduces the published figures of the Riemannian-geometry study.

Per-pair numbers below are published facts, transcribed from the public repository
alok-upadhyay/riemannian-biometric-geometry (commit f30a4dedc85871756a288b5780536ffe3de60e25):
``results/cross_modal/cross_modal_{voxceleb1,mavceleb}.json`` (gw_distance, spectral_gap, cka,
id_mismatch) and ``results/cross_modal/eer_{voxceleb1,mavceleb}.json`` (eer). The expected figures
come from ``results/tables/correlation_analysis.json`` (24 pooled pairs, full precision),
``results/tables/table_correlations.tex`` (the same, as printed), the README / METHODS.md headline
(12 VoxCeleb1 pairs: CKA Spearman rho = -0.87, p < 0.001; CKA + ID mismatch LOO R^2 = 0.72) and the
abstract (a multivariate model reaches LOO R^2 = 0.77: the model with all four metrics).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from facevoice.analysis.correlation.study import correlation_study
from facevoice.cli import app

COLUMNS = ("gw_distance", "spectral_gap", "cka", "id_mismatch", "eer")
# dataset, pair, gw_distance, spectral_gap, cka, id_mismatch, eer
# fmt: off
PUBLISHED = [
    ("voxceleb1", "arcface__wavlm", 0.06818259694525612, 0.34878581119074575, 0.04053951416982122, 19.843729501939436, 0.4206506024096386),  # noqa: E501
    ("voxceleb1", "arcface__hubert", 0.0050095604332180185, 0.5217351876508722, 0.015191630392047984, 13.757945277161333, 0.4796867469879518),  # noqa: E501
    ("voxceleb1", "arcface__wav2vec2", 0.0033765971603070414, 0.32281306809270793, 0.020259356850152434, 9.495401224535122, 0.48846586345381526),  # noqa: E501
    ("voxceleb1", "siglip__wavlm", 0.01610694073484856, 0.23050617959272288, 0.1290199886483133, 21.765170574799708, 0.311140562248996),  # noqa: E501
    ("voxceleb1", "siglip__hubert", 0.03157971972886352, 0.42489713702286735, 0.025557209784140607, 15.679386350021606, 0.39559036144578313),  # noqa: E501
    ("voxceleb1", "siglip__wav2vec2", 0.021139803271282814, 0.2859438427229105, 0.02798382759543697, 11.416842297395394, 0.4237349397590362),  # noqa: E501
    ("voxceleb1", "dinov2__wavlm", 0.016487534491481673, 0.27460408593866004, 0.16974257051263483, 20.718355607925968, 0.3002971887550201),  # noqa: E501
    ("voxceleb1", "dinov2__hubert", 0.14720084569123218, 0.46069899513701634, 0.03250670967087864, 14.632571383147866, 0.37975100401606426),  # noqa: E501
    ("voxceleb1", "dinov2__wav2vec2", 0.12226133487468814, 0.32575853906124974, 0.03443342136347082, 10.370027330521655, 0.41285943775100403),  # noqa: E501
    ("voxceleb1", "clip__wavlm", 0.006515630972957265, 0.41611347447059654, 0.21069686350121672, 23.014808366199098, 0.244144578313253),  # noqa: E501
    ("voxceleb1", "clip__hubert", 0.08471772431610214, 0.6310267424279375, 0.05186883179504457, 16.929024141420996, 0.3526907630522088),  # noqa: E501
    ("voxceleb1", "clip__wav2vec2", 0.0661762513203551, 0.4682640746879251, 0.06080751825881936, 12.666480088794785, 0.3892048192771084),  # noqa: E501
    ("mavceleb", "arcface__wavlm", 0.04459517742008566, 0.2197398597249715, 0.17966422144401908, 11.888258955449336, 0.5192307692307692),  # noqa: E501
    ("mavceleb", "arcface__hubert", 0.009454254400206002, 0.17834318338427166, 0.08308719880662488, 5.091600899837145, 0.5686813186813187),  # noqa: E501
    ("mavceleb", "arcface__wav2vec2", 0.008557805494747432, 0.17477163333278176, 0.08300922670375788, 11.531372946913715, 0.5714285714285714),  # noqa: E501
    ("mavceleb", "siglip__wavlm", 0.013667735686594764, 0.3169235084084879, 0.473031773407482, 13.551203343913887, 0.3434065934065934),  # noqa: E501
    ("mavceleb", "siglip__hubert", 0.03396567233073204, 0.11400438805238519, 0.17773558661785166, 6.754545288301696, 0.37362637362637363),  # noqa: E501
    ("mavceleb", "siglip__wav2vec2", 0.021402529577841733, 0.14640899683062786, 0.1784115167899399, 13.194317335378265, 0.41208791208791207),  # noqa: E501
    ("mavceleb", "dinov2__wavlm", 0.01793389874953619, 0.48440442040309745, 0.5102717434216381, 14.398669740961669, 0.34065934065934067),  # noqa: E501
    ("mavceleb", "dinov2__hubert", 0.09291713663691832, 0.2876371185789987, 0.20101563919622542, 7.602011685349478, 0.33516483516483514),  # noqa: E501
    ("mavceleb", "dinov2__wav2vec2", 0.06820296466753474, 0.30350965301247723, 0.22312195089395723, 14.041783732426047, 0.3708791208791209),  # noqa: E501
    ("mavceleb", "clip__wavlm", 0.022142979621294218, 0.24783517771250477, 0.5077888726534634, 16.05073216909132, 0.27472527472527475),  # noqa: E501
    ("mavceleb", "clip__hubert", 0.1037116731761336, 0.18340825402849634, 0.24107100009539972, 9.25407411347913, 0.2912087912087912),  # noqa: E501
    ("mavceleb", "clip__wav2vec2", 0.08035220294562608, 0.1627903674075776, 0.26069804983141853, 15.6938461605557, 0.38186813186813184),  # noqa: E501
]
# results/tables/correlation_analysis.json ("correlations", 24 pooled pairs): rho, p, r, p, bootstrap CI.
POOLED = {
    "gw_distance": (-0.19130434782608693, 0.3705328066699431, -0.1869053242156384, 0.3818417067890165,
                    -0.6306285847280504, 0.32614879649890577),
    "spectral_gap": (-0.09043478260869564, 0.67430275825611, -0.16965165018833328, 0.42805639739971524,
                     -0.4434200773191323, 0.3042223221597239),
    "cka": (-0.606086956521739, 0.0016940936259311088, -0.4956735072781838, 0.013773302185068441,
            -0.7875336479904014, -0.34410458121682924),
    "id_mismatch": (-0.4556521739130434, 0.025246055642045406, -0.5185013808959793, 0.009437270038603302,
                    -0.7986935735788812, 0.016304385823319542),
}
# ... "regression" (all four metrics, z-scored with the population SD, EER on its own scale).
POOLED_R2 = 0.5893241480990323
POOLED_COEF = {"gw_distance": -0.02925961320669536, "spectral_gap": -0.0027689740814775612,
               "cka": -0.04389860964563547, "id_mismatch": -0.0424586262235738}
POOLED_INTERCEPT = 0.3908826625182047
# results/tables/table_correlations.tex, as printed: rho, p-value, 95% CI.
TEX_ROWS = {
    "gw_distance": ("-0.191", "0.3705", "[-0.631, 0.326]"),
    "spectral_gap": ("-0.090", "0.6743", "[-0.443, 0.304]"),
    "cka": ("-0.606", "0.0017", "[-0.788, -0.344]"),
    "id_mismatch": ("-0.456", "0.0252", "[-0.799, 0.016]"),
}
# fmt: on
ALL_FOUR = "gw_distance+spectral_gap+cka+id_mismatch"


@pytest.fixture
def published_csv(tmp_path):
    """The published per-pair table as a CSV with the study's own column names."""
    path = tmp_path / "published_pairs.csv"
    pd.DataFrame(PUBLISHED, columns=["dataset", "pair", *COLUMNS]).to_csv(path, index=False)
    return path


@pytest.fixture
def published_json(tmp_path):
    """The published result files in their own format: cross_modal_<ds>.json and eer_<ds>.json per dataset."""
    paths = []
    for ds in ("voxceleb1", "mavceleb"):
        rows = [r for r in PUBLISHED if r[0] == ds]
        enc = {r[1]: dict(zip(("face_encoder", "voice_encoder"), r[1].split("__"), strict=True)) for r in rows}
        cm = {r[1]: {**dict(zip(COLUMNS[:4], r[2:6], strict=True)), **enc[r[1]], "n_common_ids": 1249} for r in rows}
        eer = {r[1]: {"eer": r[6], "threshold": 0.05, "n_train_ids": 999, "n_test_ids": 250, "raw_eer": float("nan"),
                      **enc[r[1]]} for r in rows}  # fmt: skip
        for name, obj in ((f"cross_modal_{ds}.json", cm), (f"eer_{ds}.json", eer)):
            (tmp_path / name).write_text(json.dumps(obj, indent=2))  # NaN is written as the literal NaN, as published
            paths.append(tmp_path / name)
    return paths


def _check_pooled(corr: pd.DataFrame, fit_row: dict) -> None:
    corr = corr.set_index("metric")
    for m, (rho, p_rho, r, p_r, lo, hi) in POOLED.items():
        got = corr.loc[m]
        assert got["n"] == 24
        assert got["spearman_rho"] == pytest.approx(rho, rel=1e-12)
        assert got["spearman_p"] == pytest.approx(p_rho, rel=1e-9)
        assert got["pearson_r"] == pytest.approx(r, rel=1e-12)
        assert got["pearson_p"] == pytest.approx(p_r, rel=1e-9)
        assert (got["spearman_ci_low"], got["spearman_ci_high"]) == pytest.approx((lo, hi), rel=1e-12)
        t_rho, t_p, t_ci = TEX_ROWS[m]
        assert f"{got['spearman_rho']:.3f}" == t_rho and f"{got['spearman_p']:.4f}" == t_p
        assert f"[{got['spearman_ci_low']:.3f}, {got['spearman_ci_high']:.3f}]" == t_ci
    assert fit_row["r2"] == pytest.approx(POOLED_R2, rel=1e-10)
    assert fit_row["beta[intercept]"] == pytest.approx(POOLED_INTERCEPT, rel=1e-10)
    for m, b in POOLED_COEF.items():
        assert fit_row[f"beta[{m}]"] == pytest.approx(b, rel=1e-5)  # the script adds 1e-8 to each SD


def test_pooled_table_reproduces_correlation_analysis_json(published_csv):
    res = correlation_study(published_csv, convention="reference")
    assert res["metrics"] == list(COLUMNS[:4]) and res["target"] == "eer"
    fits = {f.as_row()["model"]: f.as_row() for f in res["ols"]}
    _check_pooled(res["correlations"], fits[" + ".join(COLUMNS[:4])])


def test_voxceleb1_headline(published_csv):
    """METHODS.md / README: rho = -0.87 (p < 0.001) over 12 pairs; LOO R^2 0.72 (CKA + ID mismatch), 0.77 (all four)."""
    res = correlation_study(published_csv, where={"dataset": "voxceleb1"}, models=["cka", "cka+id_mismatch", ALL_FOUR],
                            n_boot=200)  # fmt: skip
    cka = res["correlations"].set_index("metric").loc["cka"]
    assert cka["n"] == 12 and round(cka["spearman_rho"], 2) == -0.87 and cka["spearman_p"] < 1e-3
    assert cka["spearman_rho"] == pytest.approx(-125 / 143, rel=1e-12)  # 1 - 6 * sum d^2 / (n (n^2 - 1)), sum d^2 = 536
    loo = {f.as_row()["model"]: round(f.loo_r2, 2) for f in res["ols"]}
    assert loo == {"cka": 0.76, "cka + id_mismatch": 0.72, "gw_distance + spectral_gap + cka + id_mismatch": 0.77}
    # Explicit refitting without each pair gives the same LOO R^2 (PRESS / TSS about the full-sample mean).
    t = res["table"]
    A = np.column_stack([np.ones(12), t[["cka", "id_mismatch"]].to_numpy()])
    y = t["eer"].to_numpy()
    pred = [A[i] @ np.linalg.lstsq(np.delete(A, i, 0), np.delete(y, i), rcond=None)[0] for i in range(12)]
    press = np.sum((y - np.array(pred)) ** 2)
    assert res["ols"][1].loo_r2 == pytest.approx(1 - press / np.sum((y - y.mean()) ** 2), rel=1e-10)


def test_cli_from_published_json(published_json, tmp_path):
    out = tmp_path / "pooled"
    args = ["analyze", "correlate", *[a for p in published_json for a in ("--pairs-json", str(p))]]
    result = CliRunner().invoke(app, [*args, "--convention", "reference", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "-0.606" in result.output and "0.0017" in result.output
    fits = pd.read_csv(out / "ols.csv").set_index("model")
    _check_pooled(pd.read_csv(out / "correlations.csv"), fits.loc[" + ".join(COLUMNS[:4])].to_dict())
    assert (out / "scatter_cka.png").stat().st_size > 0
    result = CliRunner().invoke(app, [*args, "--where", "dataset=voxceleb1", "--model", "cka_linear+id_mismatch",
                                      "--model", ALL_FOUR, "--n-boot", "200"], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(n = 12)" in result.output and "-0.874" in result.output  # Spearman rho of CKA, 12 VoxCeleb1 pairs
    assert "0.7226" in result.output and "0.7652" in result.output  # LOO R^2: CKA + ID mismatch; all four


def test_cli_csv_and_published_latex_table(published_csv, tmp_path):
    result = CliRunner().invoke(app, ["analyze", "correlate", str(published_csv), "--where", "dataset=voxceleb1",
                                      "--model", "CKA+ID mismatch", "--n-boot", "200"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "-0.874" in result.output and "0.7226" in result.output
    # results/tables/table_cross_modal.tex as published (values rounded to 3 decimals; LaTeX header names).
    lines = [rf"  {p.split('__')[0]} & {p.split('__')[1]} & {g:.3f} & {s:.3f} & {c:.3f} & {i:.3f} & {e:.3f} \\"
             for ds, p, g, s, c, i, e in sorted(PUBLISHED, key=lambda r: r[1]) if ds == "voxceleb1"]  # fmt: skip
    tex = "\n".join([r"\begin{table}[t]", r"\resizebox{\textwidth}{!}{", r"\begin{tabular}{llccccc}", r"\toprule",
                     r"Face & Voice & GW Dist. & Spectral Gap & CKA & ID Mismatch & EER \\", r"\midrule", *lines,
                     r"\bottomrule", r"\end{tabular}}", r"\end{table}"])  # fmt: skip
    (tmp_path / "table_cross_modal.tex").write_text(tex)
    res = correlation_study(tmp_path / "table_cross_modal.tex", models=["cka_linear+id_mismatch"], n_boot=200)
    assert res["metrics"] == ["GW Dist.", "Spectral Gap", "CKA", "ID Mismatch"] and len(res["table"]) == 12
    rho = res["correlations"].set_index("metric").loc["CKA", "spearman_rho"]
    assert rho == pytest.approx(-125 / 143)  # rounding to 3 decimals keeps every rank
    assert res["ols"][0].loo_r2 == pytest.approx(0.7226, abs=0.005)  # 0.7266: the rounding moves it by 0.004


def test_missing_values_and_error_entries(published_json, tmp_path):
    """An errored pair is reported, not lost; with the reference convention a metric gap costs only that metric."""
    cm = json.loads(published_json[0].read_text())
    cm["clip__hubert"] = {"error": "CUDA out of memory"}
    cm["dinov2__wavlm"]["gw_distance"] = float("nan")
    published_json[0].write_text(json.dumps(cm))
    res = correlation_study(published_json, convention="reference")
    assert res["dropped"]["pair"].tolist() == ["clip__hubert"]
    assert res["dropped"]["error"].tolist() == ["CUDA out of memory"]
    n = res["correlations"].set_index("metric")["n"].to_dict()
    assert n == {"gw_distance": 22, "spectral_gap": 23, "cka": 23, "id_mismatch": 23}
    assert res["ols"][-1].predictors == ["spectral_gap", "cka", "id_mismatch"]  # complete metrics only
    std = correlation_study(published_json, n_boot=100)  # standard: a row missing any value is left out
    assert len(std["table"]) == 22 and len(std["dropped"]) == 2
    result = CliRunner().invoke(app, ["analyze", "correlate", *map(str, published_json), "--n-boot", "100"])
    assert result.exit_code == 0, result.output
    assert "left out 2 row(s)" in result.output and "CUDA out of memory" in result.output


def test_correlation_analysis_json_as_input(tmp_path):
    """The published correlation_analysis.json itself (its "pairs" records) is a valid input."""
    doc = {"n_pairs": 24, "datasets": ["voxceleb1", "mavceleb"], "correlations": {}, "regression": None,
           "pairs": [dict(zip(("dataset", "pair", *COLUMNS), r, strict=True)) for r in PUBLISHED]}  # fmt: skip
    path = tmp_path / "correlation_analysis.json"
    path.write_text(json.dumps(doc))
    res = correlation_study(path, convention="reference")
    _check_pooled(res["correlations"], res["ols"][-1].as_row())
    vox = correlation_study(path, where={"dataset": "voxceleb1"}, models=["cka+id_mismatch"], n_boot=100)
    assert round(vox["ols"][0].loo_r2, 2) == 0.72
    with pytest.raises(ValueError, match="no row has dataset"):
        correlation_study(path, where={"dataset": "vox2"}, n_boot=100)
