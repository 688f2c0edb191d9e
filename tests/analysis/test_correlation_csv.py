"""Per-pair CSV handling and the `facevoice analyze correlate` command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from facevoice.analysis.correlation.study import correlation_study, load_pair_table, parse_models, resolve_column
from facevoice.cli import app


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_messy_csv_is_read(tmp_path):
    text = (
        "\ufeffpair ; CKA (linear) ; ID mismatch ; EER (%)\n"
        "a|x ; 0.61 ; 12.0 ; 31.2%\n"
        "a|y ; 0.72 ; \u22123.5 ; 28.0%\n"
        "b|x ; 0.40 ; 20.1 ; NA\n"
        "b|y ; 0.55 ; 15.0 ; 33.9\n"
    )
    table, metrics, target, dropped = load_pair_table(
        _write(tmp_path / "t.csv", text), ["cka_linear", "id_mismatch"], "eer"
    )
    assert metrics == ["cka_linear", "id_mismatch"] and target == "eer"
    assert table["cka_linear"].tolist() == [0.61, 0.72, 0.55]
    assert table["id_mismatch"].tolist() == [12.0, -3.5, 15.0]
    assert table["eer"].tolist() == [31.2, 28.0, 33.9]
    assert len(dropped) == 1 and dropped["pair"].iloc[0].strip() == "b|x"


def test_decimal_comma_column(tmp_path):
    text = "pair;cka;eer\nA;0,5;31,2\nB;0,6;28\nC;0,7;25,5\n"
    table, _, _, _ = load_pair_table(_write(tmp_path / "c.csv", text), ["cka"], "eer")
    assert table["cka"].tolist() == [0.5, 0.6, 0.7] and table["eer"].tolist() == [31.2, 28.0, 25.5]


def test_default_columns_and_tab_separator(tmp_path):
    text = "pair\tcka\tgw\tn_ids\tconst\teer_cca\n"
    text += "A\t0.5\t0.1\t9\t1\t0.30\nB\t0.6\t0.2\t8\t1\t0.25\nC\t0.7\t0.1\t7\t1\t0.20\n"
    table, metrics, target, _ = load_pair_table(_write(tmp_path / "t.tsv", text))
    assert target == "eer_cca" and metrics == ["cka", "gw"]


def test_csv_errors_name_file_column_row(tmp_path):
    bad = _write(tmp_path / "bad.csv", "cka,eer\n0.5,0.3\n0.6,abc\n0.7,0.2\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*'eer' row 3.*'abc'"):
        load_pair_table(bad, ["cka"], "eer")
    with pytest.raises(KeyError, match="available"):
        load_pair_table(bad, ["cka_rbf"], "eer")
    with pytest.raises(KeyError, match="no EER column"):
        load_pair_table(_write(tmp_path / "n.csv", "cka,err\n1,2\n"))
    with pytest.raises(KeyError, match="ambiguous"):
        resolve_column(["CKA linear", "cka-linear"], "cka_linear")
    with pytest.raises(FileNotFoundError):
        load_pair_table(tmp_path / "missing.csv")


def test_parse_models():
    assert parse_models(None, ["a", "b"]) == [["a"], ["b"], ["a", "b"]]
    assert parse_models(["a + b", "B"], ["a", "b"]) == [["a", "b"], ["b"]]
    with pytest.raises(KeyError, match="metric columns"):
        parse_models(["a+c"], ["a", "b"])


def _pairs_frame(n=12, seed=0):
    rng = np.random.default_rng(seed)
    cka = rng.uniform(0.2, 0.8, n)
    idm = rng.uniform(0, 20, n)
    return pd.DataFrame({
        "face_encoder": [f"f{i % 4}" for i in range(n)],
        "voice_encoder": [f"v{i // 4}" for i in range(n)],
        "CKA linear": cka,
        "ID mismatch": idm,
        "EER": 40 - 25 * cka + 0.4 * idm + rng.normal(0, 1.5, n),
    })  # fmt: skip


def test_study_writes_tables_and_figures(tmp_path):
    df = _pairs_frame()
    res = correlation_study(df, ["cka_linear", "id_mismatch"], "eer", ["cka_linear+id_mismatch"], n_boot=300,
                            out_dir=tmp_path / "out", label_column="face_encoder")  # fmt: skip
    for name in ("correlations.csv", "ols.csv", "scatter_cka_linear.png", "scatter_id_mismatch.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    corr = pd.read_csv(tmp_path / "out" / "correlations.csv").set_index("metric")
    assert corr.loc["cka_linear", "spearman_rho"] == pytest.approx(stats.spearmanr(df["CKA linear"], df["EER"])[0])
    fit = pd.read_csv(tmp_path / "out" / "ols.csv")
    assert fit["model"].tolist() == ["cka_linear + id_mismatch"]
    assert fit["loo_r2"].iloc[0] == pytest.approx(res["ols"][0].loo_r2)


def test_cli_correlate(tmp_path):
    csv = tmp_path / "pairs.csv"
    _pairs_frame().to_csv(csv, index=False)
    out = tmp_path / "res"
    args = ["analyze", "correlate", str(csv), "--metrics", "CKA linear,ID mismatch", "--target", "EER"]
    args += ["--model", "CKA linear+ID mismatch", "--model", "CKA linear", "--out", str(out), "--n-boot", "200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "CKA linear" in result.output and "OLS" in result.output
    fit = pd.read_csv(out / "ols.csv")
    assert len(fit) == 2 and (fit["r2"] >= fit["loo_r2"]).all()
    bad = CliRunner().invoke(app, ["analyze", "correlate", str(csv), "--metrics", "nope"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
