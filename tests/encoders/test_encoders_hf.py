"""transformers encoders built from tiny configs: per-layer outputs, masked pooling, tags, loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facevoice.encoders import ENCODERS, create_encoder, encoder_takes_source
from facevoice.encoders.hf.audio import HFAudioEncoder, audio_forward, prepare_audio
from facevoice.encoders.hf.common import load_backbone, masked_mean, tiny_config, weighted_layer_sum, weights_hash
from facevoice.encoders.hf.families import FAMILIES, families_of

# every family of the table: a new family is tested by the loops below
AUDIO = [f.name for f in families_of("voice")]
VISION = [f.name for f in families_of("face")]


def _waves(lengths=(4000, 1600, 2800), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths]


def _images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (40 + 3 * i, 36, 3), dtype=np.uint8) for i in range(n)]


def test_registry_lists_all_families():
    assert AUDIO + VISION and set(AUDIO + VISION) == set(FAMILIES)
    for name in AUDIO + VISION + ["resemblyzer", "dlib-face", "hf-audio", "hf-vision"]:
        assert name in ENCODERS
    for name in AUDIO + VISION + ["hf-audio", "hf-vision"]:
        assert encoder_takes_source(name)
    assert not encoder_takes_source("resemblyzer") and not encoder_takes_source("dlib-face")
    with pytest.raises(ValueError, match=r"encoder 'wavlm': unknown argument\(s\) \['pooling'\]"):
        create_encoder("wavlm", source=tiny_config("wavlm"), pooling="mean")


@pytest.mark.parametrize("family", AUDIO + VISION)
def test_every_family_builds_from_its_tiny_config_and_embeds(family):
    enc = create_encoder(family, source=tiny_config(family))
    assert enc.name == family and enc.modality == FAMILIES[family].modality
    out = enc.encode(_waves() if enc.modality == "voice" else _images(), layers=True)
    assert out.embeddings.shape == (3, enc.dim) and np.isfinite(out.embeddings).all()
    assert out.layers.shape == (enc.num_layers, 3, enc.dim)


def test_masked_mean_matches_loop():
    rng = np.random.default_rng(1)
    h = torch.tensor(rng.standard_normal((3, 5, 4)), dtype=torch.float32)
    lengths = [5, 2, 3]
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    got = masked_mean(h, mask)
    for b, n in enumerate(lengths):
        torch.testing.assert_close(got[b], h[b, :n].mean(0))
    stacked = masked_mean(torch.stack([h, 2 * h]), mask)
    assert stacked.shape == (2, 3, 4)
    torch.testing.assert_close(stacked[1], 2 * got)


@pytest.mark.parametrize("family", AUDIO)
@pytest.mark.parametrize("norm", ["group", "layer"])
def test_audio_padding_does_not_change_embeddings(family, norm):
    enc = create_encoder(
        family, source=tiny_config(family, feat_extract_norm=norm, do_stable_layer_norm=norm == "layer")
    )
    waves = _waves()
    batch = enc.encode(waves, layers=True)
    assert batch.embeddings.shape == (3, 32) and batch.embeddings.dtype == np.float32
    assert batch.layers.shape == (enc.num_layers, 3, 32) == (3, 3, 32)
    for i, w in enumerate(waves):
        solo = enc.encode([w], layers=True)
        np.testing.assert_allclose(batch.embeddings[i], solo.embeddings[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(batch.layers[:, i], solo.layers[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch.layers[-1], batch.embeddings, rtol=1e-6, atol=1e-6)


def test_audio_pooling_uses_only_valid_frames():
    enc = create_encoder("wavlm", source=tiny_config("wavlm", feat_extract_norm="layer", do_stable_layer_norm=True))
    waves = _waves((4000, 1600))
    batch = prepare_audio(enc.backbone.processor, waves, 16000)
    with torch.no_grad():
        fwd = audio_forward(enc.model, batch["input_values"], batch["attention_mask"])
    n_valid = int(fwd.frame_mask[1].sum())
    assert 0 < n_valid < fwd.frame_mask.shape[1]
    manual = fwd.hidden_states[-1][1, :n_valid].mean(0).numpy()
    np.testing.assert_allclose(enc.encode(waves).embeddings[1], manual, rtol=1e-5, atol=1e-6)


def test_audio_layer_choice_and_weighted_sum():
    src = tiny_config("hubert")
    waves = _waves()
    full = create_encoder("hubert", source=src).encode(waves, layers=True)
    first = create_encoder("hubert", source=src, layer=1).encode(waves).embeddings
    np.testing.assert_allclose(first, full.layers[1], rtol=1e-6, atol=1e-6)
    onehot = create_encoder("hubert", source=src, layer="weighted", layer_weights=[0, 0, 3]).encode(waves).embeddings
    np.testing.assert_allclose(onehot, full.layers[2], rtol=1e-5, atol=1e-6)
    uniform = create_encoder("hubert", source=src, layer="weighted").encode(waves).embeddings
    np.testing.assert_allclose(uniform, full.layers.mean(0), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="layer weights"):
        create_encoder("hubert", source=src, layer="weighted", layer_weights=[1, 1])
    with pytest.raises(ValueError, match="out of range"):
        create_encoder("hubert", source=src, layer=7)


def test_weighted_layer_sum_gradients_flow():
    h = [torch.randn(2, 4, 3, requires_grad=True) for _ in range(3)]
    out = weighted_layer_sum(h, [1.0, 2.0, 1.0])
    torch.testing.assert_close(out, (h[0] + 2 * h[1] + h[2]) / 4)
    out.sum().backward()
    assert all(t.grad is not None for t in h)


@pytest.mark.parametrize("family", VISION)
def test_vision_pooling_layers_and_batch_independence(family):
    src = tiny_config(family)
    images = _images()
    poolings = ["pooler", "mean"] + ([] if family == "siglip" else ["cls"])
    for pooling in poolings:
        enc = create_encoder(family, source=src, pooling=pooling)
        out = enc.encode(images, layers=True)
        assert out.embeddings.shape == (3, 32)
        assert out.layers.shape == (3, 3, 32)
        assert np.isfinite(out.embeddings).all()
        solo = np.stack([enc.encode([im]).embeddings[0] for im in images])
        np.testing.assert_allclose(out.embeddings, solo, rtol=1e-5, atol=1e-5)
    mid = create_encoder(family, source=src, pooling="mean", layer=1).encode(images).embeddings
    full = create_encoder(family, source=src, pooling="mean").encode(images, layers=True)
    np.testing.assert_allclose(mid, full.layers[1], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="last layer only"):
        create_encoder(family, source=src, pooling="pooler", layer=1)


def test_siglip_has_no_cls_token():
    with pytest.raises(ValueError, match="no CLS"):
        create_encoder("siglip", source=tiny_config("siglip"), pooling="cls")


def test_tag_carries_weights_hash_and_options():
    a = create_encoder("wavlm", source=tiny_config("wavlm", seed=0))
    b = create_encoder("wavlm", source=tiny_config("wavlm", seed=0))
    c = create_encoder("wavlm", source=tiny_config("wavlm", seed=1))
    d = create_encoder("wavlm", source=tiny_config("wavlm", seed=0), layer=1)
    assert a.weights_hash == b.weights_hash and a.tag == b.tag
    assert c.weights_hash != a.weights_hash and c.tag != a.tag
    assert d.tag != a.tag and d.weights_hash == a.weights_hash
    assert a.weights_hash[:16] in a.tag
    assert a.describe()["weights_sha256"] == weights_hash(a.model)


@pytest.mark.parametrize("family", ["wav2vec2", "dinov2"])
def test_load_from_local_path_matches_config_build(tmp_path, family):
    bb = load_backbone(tiny_config(family, seed=3))
    bb.model.save_pretrained(tmp_path)
    bb.processor.save_pretrained(tmp_path)
    enc_path = create_encoder(family, source=str(tmp_path))
    enc_cfg = create_encoder(family, source=tiny_config(family, seed=3))
    assert enc_path.weights_hash == enc_cfg.weights_hash
    inputs = _waves() if family == "wav2vec2" else _images()
    np.testing.assert_allclose(
        enc_path.encode(inputs).embeddings, enc_cfg.encode(inputs).embeddings, rtol=1e-6, atol=1e-6
    )


def test_wrong_modality_and_family_are_rejected():
    with pytest.raises(ValueError, match="face model"):
        HFAudioEncoder(tiny_config("clip"))
    with pytest.raises(ValueError, match="unsupported transformers family"):
        load_backbone({"family": "bert", "hidden_size": 8})
