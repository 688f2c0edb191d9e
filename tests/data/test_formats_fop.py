"""FOP-style feature CSVs and FOP/PAEFF verification lists, including malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.data.formats.fop import (
    FormatError,
    canonical_labels,
    read_feature_matrix,
    read_fop_features,
    read_fop_verification_list,
)


def _csv(path, X, labels=None, fmt="{:.6f}"):
    lines = []
    for i, row in enumerate(X):
        cells = [fmt.format(v) for v in row] + ([str(labels[i])] if labels is not None else [])
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    Xf, Xv = rng.normal(size=(6, 5)), rng.normal(size=(6, 3))
    labels = ["id10001", "id10001", "id10002", "id10003", "id10003", "id10004"]
    return tmp_path, Xf, Xv, labels


def test_read_fop_features(pair):
    tmp, Xf, Xv, labels = pair
    f, v = _csv(tmp / "face.csv", Xf, labels), _csv(tmp / "voice.csv", Xv, labels)
    out = read_fop_features(f, v, face_dim=5, voice_dim=3)
    np.testing.assert_allclose(out.face, Xf, atol=1e-6)
    np.testing.assert_allclose(out.voice, Xv, atol=1e-6)
    assert out.labels.tolist() == labels and out.face.dtype == np.float32
    ints = read_fop_features(_csv(tmp / "fi.csv", Xf, [1, 1, 2, 3, 3, 4]), _csv(tmp / "vi.csv", Xv, [1, 1, 2, 3, 3, 4]))
    assert ints.labels.tolist() == ["1", "1", "2", "3", "3", "4"]


def test_fop_features_malformed(pair):
    tmp, Xf, Xv, labels = pair
    f, v = _csv(tmp / "face.csv", Xf, labels), _csv(tmp / "voice.csv", Xv, labels)
    lines = f.read_text().splitlines()
    ragged = tmp / "ragged.csv"
    ragged.write_text("\n".join(lines[:3] + [lines[3].split(",", 1)[1]] + lines[4:]) + "\n")
    with pytest.raises(FormatError, match=r"ragged\.csv line 4: has 5 fields, expected 6"):
        read_fop_features(ragged, v)
    longer = tmp / "long.csv"
    longer.write_text("\n".join(lines[:2] + ["0.5," + lines[2]] + lines[3:]) + "\n")
    with pytest.raises(FormatError, match=r"long\.csv.*line 3"):
        read_fop_features(longer, v)
    nonnum = tmp / "nonnum.csv"
    cells = lines[4].split(",")
    cells[2] = "abc"
    nonnum.write_text("\n".join(lines[:4] + [",".join(cells)] + lines[5:]) + "\n")
    with pytest.raises(FormatError, match=r"nonnum\.csv line 5: column 3 is not numeric \('abc'\)"):
        read_fop_features(nonnum, v)
    short = _csv(tmp / "short.csv", Xv[:5], labels[:5])
    with pytest.raises(FormatError, match=r"short\.csv: 5 rows but .*face\.csv has 6"):
        read_fop_features(f, short)
    swapped = list(labels)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    other = _csv(tmp / "other.csv", Xv, swapped)
    with pytest.raises(
        FormatError, match=r"other\.csv line 3: label 'id10003' differs from .*face\.csv line 3.*2 of 6"
    ):
        read_fop_features(f, other)
    with pytest.raises(FormatError, match=r"face\.csv: has 6 columns, expected 4097"):
        read_fop_features(f, v, face_dim=4096)
    empty = tmp / "empty.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match=r"empty\.csv: empty file"):
        read_fop_features(empty, v)
    blank = tmp / "blank.csv"
    blank.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    with pytest.raises(FormatError, match=r"blank\.csv line 3"):
        read_fop_features(blank, v)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_fop_features(tmp / "missing.csv", v)


def test_verification_list_identity_labels_by_default(pair):
    tmp, Xf, Xv, labels = pair
    voice_labels = ["id10001", "id10009", "id10002", "id10008", "id10003", "id10007"]
    f, v = _csv(tmp / "vf.csv", Xf, labels), _csv(tmp / "vv.csv", Xv, voice_labels)
    vl = read_fop_verification_list(f, v)
    assert vl.label_source == "identity" and vl.labels.tolist() == [1, 0, 1, 0, 1, 0]
    assert vl.parity_agreement == 1.0
    par = read_fop_verification_list(f, v, labels="parity")
    assert par.label_source == "parity" and par.labels.tolist() == [1, 0, 1, 0, 1, 0]
    (fids, F), (vids, V), trials = vl.as_trials()
    assert trials["probe_id"].tolist() == vids and (trials["direction"] == "v2f").all() and F.shape == (6, 5)


def test_verification_list_parity_disagreement_is_reported(pair):
    tmp, Xf, Xv, labels = pair
    f, v = _csv(tmp / "vf.csv", Xf, labels), _csv(tmp / "vv.csv", Xv, labels)  # every trial is a positive
    vl = read_fop_verification_list(f, v)
    assert vl.labels.tolist() == [1] * 6 and vl.parity_agreement == 0.5


def test_verification_list_without_labels_needs_parity(pair):
    tmp, Xf, Xv, _ = pair
    f, v = _csv(tmp / "nf.csv", Xf), _csv(tmp / "nv.csv", Xv)
    with pytest.raises(FormatError, match="labels='parity'"):
        read_fop_verification_list(f, v)
    with pytest.raises(FormatError, match="expected 6"):
        read_fop_verification_list(f, v, labels="identity", face_dim=5)
    vl = read_fop_verification_list(f, v, labels="parity", face_dim=5, voice_dim=3)
    assert vl.labels.tolist() == [1, 0, 1, 0, 1, 0] and vl.face.shape == (6, 5) and vl.face_ids is None
    # without dims the last float column is a feature, not a label
    vl2 = read_fop_verification_list(f, v, labels="parity")
    assert vl2.voice.shape == (6, 3)
    with pytest.raises(ValueError, match="labels must be"):
        read_fop_verification_list(f, v, labels="rows")


def test_verification_list_label_column_in_one_file_only(pair):
    tmp, Xf, Xv, labels = pair
    f, v = _csv(tmp / "lf.csv", Xf, labels), _csv(tmp / "nv.csv", Xv)
    with pytest.raises(FormatError, match="ends in a label column but"):
        read_fop_verification_list(f, v)


def test_trailing_blank_lines_and_crlf_are_accepted(pair):
    tmp, Xf, Xv, labels = pair
    f, v = _csv(tmp / "face.csv", Xf, labels), _csv(tmp / "voice.csv", Xv, labels)
    f.write_text(f.read_text() + "\n\n")
    v.write_bytes(v.read_text().replace("\n", "\r\n").encode())
    out = read_fop_features(f, v, face_dim=5, voice_dim=3)
    assert out.face.shape == (6, 5) and out.labels.tolist() == labels


def test_integral_labels_match_whatever_their_spelling(pair):
    tmp, Xf, Xv, _ = pair
    f = _csv(tmp / "f.csv", Xf, ["3.0", "3.0", "10001.00", "+7", "7", "id8"])
    v = _csv(tmp / "v.csv", Xv, ["3", "3", "10001", "7", "7.0", "id8"])
    assert read_fop_features(f, v).labels.tolist() == ["3", "3", "10001", "7", "7", "id8"]
    lst = read_fop_verification_list(f, v, face_dim=5, voice_dim=3)
    assert lst.labels.tolist() == [1] * 6
    assert canonical_labels(np.array([" 2.50", "1e3", "-4.0"])).tolist() == ["2.50", "1e3", "-4"]


def test_one_feature_short_is_named_not_misread(pair):
    tmp, Xf, Xv, labels = pair
    short = _csv(tmp / "short.csv", Xf[:, :4], labels)  # 4 features + a text label = 5 columns
    with pytest.raises(FormatError, match=r"short\.csv: has 5 columns and the last one holds text .*'id10001'.*only 4"):
        read_fop_verification_list(short, _csv(tmp / "v.csv", Xv, labels), face_dim=5, voice_dim=3)
    # 4 features + an integer label, read as 5 features: cannot be told apart, but it is flagged
    ints = _csv(tmp / "ints.csv", Xf[:, :4], [1, 1, 2, 3, 3, 4])
    with pytest.warns(UserWarning, match=r"ints\.csv: the last of its 5 feature columns holds only integers"):
        X, lab = read_feature_matrix(ints, 5)
    assert X.shape == (6, 5) and lab is None


def test_read_feature_matrix(pair):
    tmp, Xf, _, labels = pair
    X, lab = read_feature_matrix(_csv(tmp / "f.csv", Xf, labels), 5)
    assert X.shape == (6, 5) and lab.tolist() == labels
    X, lab = read_feature_matrix(_csv(tmp / "n.csv", Xf), 5)
    assert X.shape == (6, 5) and lab is None
    with pytest.raises(FormatError, match=r"n\.csv: has 5 columns, expected 6 or 7"):
        read_feature_matrix(tmp / "n.csv", 6)
