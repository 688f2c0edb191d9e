"""``method.loss`` / ``method.loss_args``: a recipe names the loss where the method allows a choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_toy import make_batch, planted, run_steps

from facevoice.methods import create_method


def _create(name, toy, **hp):
    torch.manual_seed(0)
    return create_method(name, toy.face.shape[1], toy.voice.shape[1], toy.n_classes, hp)


def test_fop_with_a_centre_loss_adds_its_pull_term_to_ce() -> None:
    toy = planted()
    method = _create("fop", toy, loss="center", loss_args={"weight": 0.5, "update_centers": False}, alpha=2.0)
    batch = make_batch(method, toy, np.random.default_rng(0), 0, 0, 4, 1, 12)
    method.eval()  # no dropout: the fused vectors below are the ones the step used
    out = method.training_step(batch, 0, 0)
    fused = method.head(batch.face, batch.voice)["fused"]
    centre = 0.5 * fused.pow(2).sum(1).mean()  # centres start at zero: 1/2 mean ||x||^2
    assert out["center_center"].item() == pytest.approx(centre.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(out["ce"].item() + 2.0 * 0.5 * centre.item(), rel=1e-5)
    assert method.aux.centers.shape == (toy.n_classes, method.hparams["dim"])


def test_sbnet_loss_args_override_its_own_names() -> None:
    toy = planted()
    default = _create("sbnet", toy, loss="opl")
    assert default.aux.gamma == 0.7  # opl_gamma
    chosen = _create("sbnet", toy, loss="opl", opl_gamma=0.3, loss_args={"gamma": 0.9, "form": "reference"})
    assert (chosen.aux.gamma, chosen.aux.form) == (0.9, "reference")
    git = _create("sbnet", toy, loss="git", alpha_c=0.2, git_pairs="different_identity")
    assert (git.aux.lambda_c, git.aux.pairs, git.aux.update_centers) == (0.2, "different_identity", True)


def test_contrastive_takes_another_pair_loss_and_names_its_terms_by_direction() -> None:
    toy = planted()
    method = _create("contrastive", toy, loss="ssos_alignment", loss_args={"offset": 2.0}, lr=1e-2)
    assert method.loss.offset == 2.0
    losses = run_steps(method, toy, 12)
    assert np.isfinite(losses).all() and np.mean(losses[-3:]) < np.mean(losses[:3])
    batch = make_batch(method, toy, np.random.default_rng(0), 0, 0, 4, 1, 12)
    out = method.train().training_step(batch, 0, 0)
    assert {"loss", "loss_v2f", "loss_f2v"} <= set(out) and not any("a2b" in k for k in out)
    nce = _create("contrastive", toy).train().training_step(batch, 0, 0)
    assert {"loss_v2f", "loss_f2v", "logit_scale", "acc_v2f", "acc_f2v"} <= set(nce)


@pytest.mark.parametrize(
    ("method", "hp", "message"),
    [
        ("sbnet", {"loss": "infonce"}, r"needs input\(s\) \['a', 'b'\].*fit: center, cross_entropy, git, opl"),
        ("fop", {"loss": "centre"}, "unknown loss 'centre'; valid losses:"),
        ("fop", {"loss_args": {"gama": 1.0}}, r"loss 'opl': unknown argument\(s\) \['gama'\]"),
        ("fop", {"loss": "center", "opl_gamma": 0.5}, "opl_gamma is an argument of loss 'opl'"),
        ("contrastive", {"loss": "ssos_alignment", "temperature": 0.1}, "temperature is an argument of loss 'infonce'"),
        ("contrastive", {"loss_args": [1]}, "loss_args must be a mapping"),
        ("sbnet", {"loss": "center", "loss_args": {"dim": 3}}, "set by the method"),
    ],
)
def test_bad_loss_choices_are_refused_in_one_line(method, hp, message) -> None:
    with pytest.raises(ValueError, match=message) as err:
        _create(method, planted(), **hp)
    assert "\n" not in str(err.value)
