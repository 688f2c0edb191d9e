"""PAEFF: ablation variants, attention variants, loss weights, reference options, optimiser schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_toy import make_batch, planted

from facevoice.methods import METHODS


def _paeff(toy, **hp):
    torch.manual_seed(0)
    return METHODS.create("paeff", toy.face.shape[1], toy.voice.shape[1], toy.n_classes, **hp)


def test_paeff_defaults_are_the_papers() -> None:
    hp = _paeff(planted()).hparams
    assert (hp["w_align"], hp["w_opl"], hp["w_ce"], hp["temperature"], hp["c"]) == (0.3, 0.35, 0.35, 0.07, 0.05)
    assert (hp["lr"], hp["weight_decay"], hp["eta_min"], hp["dim"], hp["dropout"]) == (2e-5, 0.01, 1e-8, 256, 0.4)
    assert hp["variant"] == "full" and hp["alignment_similarity"] == "hyperbolic" and hp["egff_mix"] == "activated"


@pytest.mark.parametrize("variant", ["baseline", "egff", "egff_euclidean", "full"])
@pytest.mark.parametrize("attention", ["mult", "add", "concat"])
def test_paeff_variants_build_and_weight_their_terms(variant: str, attention: str) -> None:
    toy = planted()
    method = _paeff(toy, variant=variant, attention=attention)
    batch = make_batch(method, toy, np.random.default_rng(0), 0, 0, 4, 1, 12)
    out = method.train().training_step(batch, 0, 0)
    assert method.head.fusion == ("gated" if variant == "baseline" else "egff")
    expected = 0.35 * out["ce"] + 0.35 * out["opl"]
    if variant in ("egff_euclidean", "full"):
        expected = expected + 0.3 * out["align"]
        similarity = "cosine" if variant == "egff_euclidean" else "hyperbolic"
        assert method.align.similarity == similarity
    else:
        assert "align" not in out and method.align is None
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_paeff_reference_alignment_option() -> None:
    method = _paeff(planted(), alignment_similarity="euclidean_dot", egff_mix="raw")
    assert method.align.similarity == "euclidean_dot" and method.head.fusion_layer.mix == "raw"


def test_paeff_adamw_cosine_schedule_to_eta_min() -> None:
    method = _paeff(planted())
    opt, sched = method.configure_optimizer(10)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.01
    assert opt.param_groups[0]["lr"] == pytest.approx(2e-5)
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[4] == pytest.approx(1e-8 + (2e-5 - 1e-8) * 0.5, rel=1e-6)
    assert lrs[-1] == pytest.approx(1e-8, rel=1e-6)
    assert method.default_batch_size == 1024


def test_paeff_rejects_bad_variant() -> None:
    with pytest.raises(ValueError, match="variant must be one of"):
        _paeff(planted(), variant="everything")
