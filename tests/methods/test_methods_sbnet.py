"""SBNet: the seven training orders, the three auxiliary losses, the TF-reference option, LR decay."""

from __future__ import annotations

import pytest
import torch
from methods_toy import planted, run_steps

from facevoice.methods import METHODS
from facevoice.methods.base import Batch
from facevoice.methods.sbnet import ORDERS

EXPECTED = {  # 2 epochs × 4 steps
    "random": [None] * 8,
    "hefhev": ["face", "face", "voice", "voice"] * 2,
    "hevhef": ["voice", "voice", "face", "face"] * 2,
    "fvfv": ["face"] * 4 + ["voice"] * 4,
    "vfvf": ["voice"] * 4 + ["face"] * 4,
    "face_only": ["face"] * 8,
    "voice_only": ["voice"] * 8,
    "paired_rows": ["pairs"] * 8,
}


def _sbnet(toy, **hp):
    torch.manual_seed(0)
    return METHODS.create("sbnet", toy.face.shape[1], toy.voice.shape[1], toy.n_classes, **hp)


@pytest.mark.parametrize("order", ORDERS)
def test_sbnet_training_orders(order: str) -> None:
    method = _sbnet(planted(), order=order)
    got = [method.modality_schedule(e, 2, s, 4) for e in range(2) for s in range(4)]
    assert got == EXPECTED[order]
    assert method.sampling == "modality"


@pytest.mark.parametrize("order", ["face_only", "voice_only", "hefhev", "paired_rows"])
def test_sbnet_orders_train_only_the_scheduled_modality(order: str) -> None:
    toy = planted()
    method = _sbnet(toy, order=order, lr=1e-2)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    run_steps(method, toy, 6, spe=6)
    face_moved = not torch.equal(method.head.face_adapter.weight, before["head.face_adapter.weight"])
    voice_moved = not torch.equal(method.head.voice_adapter.weight, before["head.voice_adapter.weight"])
    assert (face_moved, voice_moved) == {
        "face_only": (True, False),
        "voice_only": (False, True),
        "hefhev": (True, True),
        "paired_rows": (True, True),
    }[order]


@pytest.mark.parametrize("loss", ["opl", "center", "git"])
def test_sbnet_losses_and_centre_updates(loss: str) -> None:
    toy = planted()
    method = _sbnet(toy, loss=loss, lr=1e-2)
    batch = Batch(toy.face_labels[:8], face=toy.face[:8], modality="face")
    out = method.train().training_step(batch, 0, 0)
    expected = {"opl": {"opl_pos_mean", "opl_neg_mean"}, "center": {"center_center"}, "git": {"git_center", "git_push"}}
    assert expected[loss] <= set(out)
    aux_total = out["loss"].item() - out["ce"].item()
    if loss == "git":
        assert aux_total == pytest.approx(out["git_center"].item() + out["git_push"].item(), rel=1e-5)
    if loss != "opl":
        assert method.aux.centers.abs().sum() > 0  # paper: centres move after a training forward pass


def test_sbnet_reference_tf_option() -> None:
    toy = planted()
    method = _sbnet(toy, loss="center", reference_tf=True)
    assert method.center_on == "logits" and method.aux.centers.shape == (toy.n_classes, toy.n_classes)
    c0 = method.aux.centers.clone()
    assert c0.abs().sum() > 0  # Xavier-initialised
    run_steps(method, toy, 4)
    assert torch.equal(method.aux.centers, c0)  # never updated
    git = _sbnet(toy, loss="git", reference_tf=True)
    assert git.aux.form == "reference_tf" and not git.aux.update_centers and git.aux.centers.shape[1] == 128


def test_sbnet_mixed_batch_uses_both_modalities() -> None:
    toy = planted()
    method = _sbnet(toy, loss="opl")
    batch = Batch(toy.face_labels[:6], face=toy.face[:6], voice=toy.voice[:6])
    out = method.train().training_step(batch, 0, 0)
    assert torch.isfinite(out["loss"])
    # unpaired mixed batch (random order): 4 faces and 7 voices, one label per row, faces first
    labels = torch.cat([toy.face_labels[:4], toy.voice_labels[3:10]])
    mixed = Batch(labels, face=toy.face[:4], voice=toy.voice[3:10])
    torch.manual_seed(0)
    got = method.train().training_step(mixed, 0, 0)
    out = method.head(toy.face[:4], toy.voice[3:10])
    logits = torch.cat([out["face_logits"], out["voice_logits"]])
    torch.manual_seed(0)
    again = method.training_step(mixed, 0, 0)
    assert torch.equal(got["loss"], again["loss"]) and logits.shape[0] == len(labels) == 11
    method.eval()
    ce = method.training_step(mixed, 0, 0)["ce"]
    out = method.head(toy.face[:4], toy.voice[3:10])
    ref = torch.nn.functional.cross_entropy(torch.cat([out["face_logits"], out["voice_logits"]]), labels)
    assert ce.item() == pytest.approx(ref.item(), rel=1e-5)


def test_sbnet_exponential_lr_decay_per_epoch() -> None:
    toy = planted()
    method = _sbnet(toy, lr=1e-3, lr_decay_rate=0.5)
    run_steps(method, toy, 12, spe=6)
    opt, sched = method.configure_optimizer(12)
    for _ in range(6):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)
    assert method.hparams["lr"] == 1e-3 and _sbnet(toy).hparams["lr"] == 1e-5


def test_sbnet_unimodal_embeddings_separate_identities_after_training() -> None:
    toy = planted()
    method = _sbnet(toy, order="face_only", lr=1e-2)
    run_steps(method, toy, 40)
    ef = torch.nn.functional.normalize(method.embed(toy.face, "face"), dim=1)
    sim = ef @ ef.T
    same = toy.face_labels[:, None] == toy.face_labels[None, :]
    off = ~torch.eye(len(ef), dtype=torch.bool)
    assert sim[same & off].mean() > sim[~same].mean() + 0.3


def test_sbnet_rejects_unknown_order() -> None:
    with pytest.raises(ValueError, match="order must be one of"):
        _sbnet(planted(), order="zigzag")
