"""The calling convention: declared inputs checked at class definition, picked by ``compute``, losses
built by name with the method's sizes, one-line errors for unknown names, arguments and inputs."""

from __future__ import annotations

import pytest
import torch

from facevoice.losses import LOSSES, check_inputs, create_loss, losses_fitting
from facevoice.losses.base import Loss


def test_forward_must_take_exactly_the_declared_inputs() -> None:
    with pytest.raises(TypeError, match="declared inputs"):

        class Wrong(Loss):
            inputs = ("features", "labels")

            def forward(self, features, targets):  # 'targets' is not what it declares
                return {"loss": features.sum()}

    with pytest.raises(TypeError, match="unknown input"):

        class Unknown(Loss):
            inputs = ("embeddings",)

            def forward(self, embeddings):
                return {"loss": embeddings.sum()}


def test_compute_passes_only_the_declared_inputs() -> None:
    seen = {}

    class Probe(Loss):
        inputs = ("a",)
        optional = ("labels",)

        def forward(self, a, labels=None):
            seen["labels"] = labels
            return {"loss": a.sum()}

    a = torch.ones(2, 3)
    assert Probe().compute({"a": a, "b": torch.zeros(2, 3), "labels": None})["loss"].item() == 6.0
    assert seen["labels"] is None  # an input offered as None is not passed
    Probe().compute({"a": a, "labels": torch.tensor([0, 1])})
    assert seen["labels"].tolist() == [0, 1]


def test_create_loss_fills_declared_sizes_and_refuses_bad_arguments() -> None:
    centre = create_loss("center", sizes={"n_classes": 7, "dim": 5, "unused": 1}, weight=0.25)
    assert centre.centers.shape == (7, 5) and centre.weight == 0.25
    opl = create_loss("opl", sizes={"n_classes": 7, "dim": 5}, gamma=0.5)  # sizes it does not declare are ignored
    assert opl.gamma == 0.5
    with pytest.raises(ValueError, match=r"needs the size\(s\) \['dim'\]"):
        create_loss("center", sizes={"n_classes": 3})
    with pytest.raises(ValueError, match="set by the method"):
        create_loss("center", sizes={"n_classes": 3, "dim": 2}, dim=4)
    with pytest.raises(ValueError, match=r"loss 'opl': unknown argument\(s\) \['gama'\]; valid: \['gamma', 'form'\]"):
        create_loss("opl", gama=0.5)
    with pytest.raises(ValueError, match="unknown loss 'centre'; valid losses: center, cross_entropy"):
        create_loss("centre")
    with pytest.raises(KeyError):  # the registry's error is both a KeyError and a ValueError
        LOSSES.get("centre")


def test_check_inputs_lists_the_losses_that_fit() -> None:
    check_inputs("method 'x'", "center", ("features", "labels"))
    with pytest.raises(ValueError) as err:
        check_inputs("method 'x'", "infonce", ("features", "labels"))
    msg = str(err.value)
    assert "needs input(s) ['a', 'b']" in msg and "\n" not in msg
    assert msg.endswith("losses that fit: center, git, opl")
    assert losses_fitting(("a", "b")) == ["hyperbolic_alignment", "infonce", "ssos_alignment"]
