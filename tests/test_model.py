"""SwitchVAE model: shapes, the switch and its stop-gradient, randomness, checkpoints, ResNet."""

from __future__ import annotations

import functools

import pytest
import torch

from switchvae.errors import ConfigError
from switchvae.losses import alignment_loss, kl_divergence, reconstruction_loss
from switchvae.model.config import LossConfig, ModelConfig
from switchvae.model.decoder import VoxelDecoder
from switchvae.model.image_encoder import MultiViewImageEncoder
from switchvae.model.resnet import ResNet18, load_torchvision_state_dict
from switchvae.model.switchvae import SwitchVAE
from switchvae.model.voxel_encoder import VoxelEncoder, encoder_output_side

LATENT = 8
FEATURES = 16
BATCH = 2
IMAGE = 32
SIDE = 32
TORCHVISION_RESNET18_PARAMETERS = 11_689_512  # torchvision.models.resnet18(), 1000 classes


def small_config(**overrides: object) -> ModelConfig:
    settings = {"latent_dim": LATENT, "image_feature_dim": FEATURES, **overrides}
    return ModelConfig(**settings)


@functools.cache
def shared_model(**overrides: object) -> SwitchVAE:
    """One model per setting for tests that only run forward passes (saves construction)."""
    return SwitchVAE(small_config(**overrides))


def make_batch(batch: int = BATCH, views: int = 2, channels: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    voxels = (torch.rand(batch, 1, SIDE, SIDE, SIDE, generator=g) > 0.7).float()
    images = torch.rand(batch, views, channels, IMAGE, IMAGE, generator=g)
    return voxels, images


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("mode", ["switch", "weighted_add", "voxel_only", "image_only"])
def test_output_shapes_per_mode(mode: str) -> None:
    voxels, views = make_batch()
    with torch.no_grad():
        out = shared_model(mode=mode)(voxels, views, gen())
    has_voxel, has_image = mode != "image_only", mode != "voxel_only"
    for name in ("mu_voxel", "logvar_voxel", "z_voxel"):
        value = getattr(out, name)
        assert (value is not None) == has_voxel
        assert value is None or value.shape == (BATCH, LATENT)
    for name in ("mu_image", "logvar_image", "z_image"):
        value = getattr(out, name)
        assert (value is not None) == has_image
        assert value is None or value.shape == (BATCH, LATENT)
    for name in ("z_decoder", "mu_chosen", "logvar_chosen"):
        assert getattr(out, name).shape == (BATCH, LATENT)
    assert out.use_voxel.shape == (BATCH,) and out.use_voxel.dtype == torch.bool
    assert out.recon_logits.shape == (BATCH, 1, SIDE, SIDE, SIDE)


def test_single_branch_modes_need_only_their_input() -> None:
    voxels, views = make_batch()
    with torch.no_grad():
        assert shared_model(mode="voxel_only")(voxels, None).z_image is None
        assert shared_model(mode="image_only")(None, views).z_voxel is None
    with pytest.raises(ValueError, match="needs views"):
        shared_model()(voxels, None)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("aggregation", ["gru", "max"])
def test_image_encoder_any_view_count(channels: int, aggregation: str) -> None:
    model = shared_model(image_channels=channels, aggregation=aggregation)
    for num_views in (1, 3, 8):
        voxels, views = make_batch(views=num_views, channels=channels)
        with torch.no_grad():
            out = model(voxels, views, gen())
        assert out.mu_image.shape == (BATCH, LATENT)
        assert out.recon_logits.shape == (BATCH, 1, SIDE, SIDE, SIDE)


def test_encode_views_with_different_view_counts_on_one_model() -> None:
    model = SwitchVAE(small_config()).eval()
    with torch.no_grad():
        for num_views in (1, 5):
            _, views = make_batch(batch=1, views=num_views)
            assert model.encode_views(views).shape == (1, LATENT)


def test_wrong_input_shapes_are_rejected() -> None:
    model = shared_model()
    voxels, views = make_batch()
    with pytest.raises(ValueError, match="voxels must have shape"):
        model.encode_voxels(voxels[:, :, :16])
    with pytest.raises(ValueError, match="views must have shape"):
        model.encode_views(views[:, :, :1])
    with pytest.raises(ValueError, match="at least 32"):
        model.encode_views(views[..., :16, :16])


def test_voxel_network_sizes() -> None:
    assert encoder_output_side(32) == 7  # 32 -> 30 -> 15 -> 13 -> 7
    decoder = VoxelDecoder(LATENT, 32)
    assert decoder.hidden[0].out_features == 343
    assert decoder(torch.randn(3, LATENT)).shape == (3, 1, 32, 32, 32)
    encoder = VoxelEncoder(LATENT, 32)
    assert encoder.hidden[1].in_features == 64 * 7**3
    mu, logvar = encoder(torch.rand(3, 1, 32, 32, 32))
    assert mu.shape == logvar.shape == (3, LATENT)


@pytest.mark.parametrize("side", [16, 24])
def test_other_resolutions_round_trip(side: int) -> None:
    encoder, decoder = VoxelEncoder(LATENT, side), VoxelDecoder(LATENT, side)
    mu, _ = encoder(torch.rand(2, 1, side, side, side))
    assert decoder(mu).shape == (2, 1, side, side, side)


def test_channels_last_gives_the_same_features() -> None:
    encoder = MultiViewImageEncoder(LATENT, 3, FEATURES, "max").eval()
    _, views = make_batch(views=3)
    with torch.no_grad():
        expected = encoder(views)[0]
        encoder = encoder.to(memory_format=torch.channels_last)
        assert encoder._uses_channels_last()
        actual = encoder(views)[0]
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- the switch


def test_p_voxel_one_feeds_only_the_voxel_latent() -> None:
    with torch.no_grad():
        out = shared_model(p_voxel=1.0)(*make_batch(), gen())
    assert out.use_voxel.all()
    assert torch.equal(out.z_decoder, out.z_voxel)
    assert torch.equal(out.mu_chosen, out.mu_voxel)
    assert torch.equal(out.logvar_chosen, out.logvar_voxel)


def test_p_voxel_zero_feeds_only_the_image_latent() -> None:
    with torch.no_grad():
        out = shared_model(p_voxel=0.0, per_sample=True)(*make_batch(), gen())
    assert not out.use_voxel.any()
    assert torch.equal(out.z_decoder, out.z_image)
    assert torch.equal(out.mu_chosen, out.mu_image)


def test_weighted_add_mixes_the_branches() -> None:
    with torch.no_grad():
        out = shared_model(mode="weighted_add")(*make_batch(), gen())
    torch.testing.assert_close(out.z_decoder, 0.8 * out.z_voxel + 0.2 * out.z_image)
    torch.testing.assert_close(out.mu_chosen, 0.8 * out.mu_voxel + 0.2 * out.mu_image)


def test_per_sample_switch_mixes_branches_within_a_batch() -> None:
    with torch.no_grad():
        out = shared_model(per_sample=True, p_voxel=0.5)(*make_batch(batch=4), gen(0))
    assert 0 < int(out.use_voxel.sum()) < 4
    rows = out.use_voxel[:, None]
    assert torch.equal(out.z_decoder, torch.where(rows, out.z_voxel, out.z_image))


def test_per_batch_switch_is_uniform_within_a_batch() -> None:
    model, batch = shared_model(p_voxel=0.5), make_batch(batch=3)
    with torch.no_grad():
        masks = [model(*batch, gen(seed)).use_voxel for seed in range(6)]
    assert all(bool(m.all()) or not bool(m.any()) for m in masks)
    assert any(bool(m.all()) for m in masks) and any(not bool(m.any()) for m in masks)


def test_same_seed_same_output_and_new_seed_new_sample() -> None:
    model, batch = shared_model(per_sample=True, p_voxel=0.5), make_batch(batch=4)
    # A one-row switch group is decoded with BatchNorm's running statistics, which every
    # training-mode call updates: start each call from the same state.
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        first = model(*batch, gen(3))
        model.load_state_dict(state)
        second = model(*batch, gen(3))
        other = model(*batch, gen(4))
    for name in ("z_voxel", "z_image", "use_voxel", "z_decoder", "recon_logits"):
        assert torch.equal(getattr(first, name), getattr(second, name))
    assert not torch.equal(first.z_voxel, other.z_voxel)
    assert not torch.equal(first.z_image, other.z_image)


# ---------------------------------------------------------------- stop-gradient


def _grads(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


def _all_zero(grads: list[torch.Tensor | None]) -> bool:
    return all(g is None or not g.any() for g in grads)


def _decoder_path_loss(out, voxels: torch.Tensor) -> torch.Tensor:
    return reconstruction_loss(out.recon_logits, voxels) + kl_divergence(
        out.mu_chosen, out.logvar_chosen
    )


@pytest.mark.parametrize("p_voxel", [1.0, 0.0])
def test_unchosen_encoder_gets_no_decoder_gradient(p_voxel: float) -> None:
    model = SwitchVAE(small_config(p_voxel=p_voxel))
    voxels, views = make_batch()
    out = model(voxels, views, gen())
    _decoder_path_loss(out, voxels).backward()
    chosen, unchosen = (
        (model.voxel_encoder, model.image_encoder)
        if p_voxel == 1.0
        else (model.image_encoder, model.voxel_encoder)
    )
    assert _all_zero(_grads(unchosen))
    assert not _all_zero(_grads(chosen))
    assert not _all_zero(_grads(model.decoder))


def test_alignment_loss_reaches_both_encoders() -> None:
    model = SwitchVAE(small_config(p_voxel=1.0))
    voxels, views = make_batch()
    out = model(voxels, views, gen())
    loss = _decoder_path_loss(out, voxels) + alignment_loss(out.mu_voxel, out.mu_image)
    loss.backward()
    assert not _all_zero(_grads(model.voxel_encoder))
    assert not _all_zero(_grads(model.image_encoder))


def test_per_sample_stop_gradient_cuts_exactly_the_unchosen_rows() -> None:
    model = SwitchVAE(small_config(per_sample=True, p_voxel=0.5))
    voxels, views = make_batch(batch=4)
    out = model(voxels, views, gen(0))
    mask = out.use_voxel
    assert 0 < int(mask.sum()) < 4
    for latent in (out.z_voxel, out.z_image, out.mu_voxel, out.mu_image):
        latent.retain_grad()
    _decoder_path_loss(out, voxels).backward()
    for voxel_side, image_side in ((out.z_voxel, out.z_image), (out.mu_voxel, out.mu_image)):
        assert not voxel_side.grad[~mask].any() and voxel_side.grad[mask].abs().sum(1).all()
        assert not image_side.grad[mask].any() and image_side.grad[~mask].abs().sum(1).all()


def test_per_sample_switch_is_exact_through_the_decoders_batchnorm() -> None:
    """The reconstruction loss of image-chosen rows alone must not reach the voxel encoder
    (nor that of voxel-chosen rows the image encoder), BatchNorm in training mode included."""
    model = SwitchVAE(small_config(per_sample=True, p_voxel=0.5)).train()
    voxels, views = make_batch(batch=6)
    out = model(voxels, views, gen(1))
    mask = out.use_voxel
    assert 1 < int(mask.sum()) < 5  # both groups hold >= 2 rows: batch statistics in use
    logits = out.recon_logits
    image_rows = (~mask).nonzero()[:, 0]
    reconstruction_loss(logits[image_rows], voxels[image_rows]).backward(retain_graph=True)
    assert _all_zero(_grads(model.voxel_encoder))
    assert not _all_zero(_grads(model.image_encoder))
    model.zero_grad()
    voxel_rows = mask.nonzero()[:, 0]
    reconstruction_loss(logits[voxel_rows], voxels[voxel_rows]).backward()
    assert _all_zero(_grads(model.image_encoder))
    assert not _all_zero(_grads(model.voxel_encoder))


def test_per_sample_switch_with_a_single_row_group_uses_running_stats() -> None:
    model = SwitchVAE(small_config(per_sample=True, p_voxel=0.5)).train()
    voxels, views = make_batch(batch=3)
    for seed in range(40):  # find a draw with one row in one group
        out = model(voxels, views, gen(seed))
        if int(out.use_voxel.sum()) in (1, 2):
            break
    assert int(out.use_voxel.sum()) in (1, 2) and model.decoder.training
    assert torch.isfinite(out.recon_logits).all()


@pytest.mark.parametrize("mode", ["voxel_only", "image_only"])
def test_one_branch_modes_do_not_build_the_other_encoder(mode: str) -> None:
    model = SwitchVAE(small_config(mode=mode))
    assert (model.voxel_encoder is None) == (mode == "image_only")
    assert (model.image_encoder is None) == (mode == "voxel_only")
    with pytest.raises(ValueError, match="has no"):
        if mode == "voxel_only":
            model.encode_views(make_batch()[1])
        else:
            model.encode_voxels(make_batch()[0])


def test_flatten_head_keeps_the_spatial_layout() -> None:
    """The public code's head: the last 512×g×g map flattened into the view feature, and a
    Dense after the aggregation. Mirroring the map changes its output, not the pool head's."""
    views = torch.rand(2, 3, 1, 64, 64, generator=gen())
    maps = torch.rand(6, 512, 2, 2, generator=gen(1))
    for head, sensitive in (("flatten", True), ("pool", False)):
        encoder = MultiViewImageEncoder(LATENT, 1, FEATURES, "max", head=head, head_grid=2)
        assert encoder.view_embedding[0].in_features == 512 * (4 if sensitive else 1)
        assert (encoder.shape_embedding is not None) == sensitive
        mu, logvar = encoder(views)
        assert mu.shape == logvar.shape == (2, LATENT)
        encoder.eval()
        encoder.backbone.feature_map = lambda _, m=maps: m
        before = encoder.means(views)
        mirrored = maps.flip(-1)
        encoder.backbone.feature_map = lambda _, m=mirrored: m
        assert torch.allclose(before, encoder.means(views), atol=1e-6) != sensitive
        assert encoder.means(views, num_views=1).shape == (2, LATENT)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path) -> None:
    model = SwitchVAE(small_config(image_channels=1, aggregation="max"))
    voxels, views = make_batch(channels=1)
    with torch.no_grad():
        model(voxels, views, gen())  # a training-mode pass moves BN running stats off defaults
    model.eval()
    path = tmp_path / "model.pt"
    torch.save(model.checkpoint_payload(), path)
    loaded = SwitchVAE.from_checkpoint(path)
    assert not loaded.training
    assert loaded.config == model.config
    with torch.no_grad():
        expected, actual = model(voxels, views, gen(5)), loaded(voxels, views, gen(5))
        assert torch.equal(expected.recon_logits, actual.recon_logits)
        assert torch.equal(model.encode_views(views), loaded.encode_views(views))
        assert torch.equal(model.encode_voxels(voxels), loaded.encode_voxels(voxels))


def test_bad_checkpoint_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        SwitchVAE.from_checkpoint(tmp_path / "missing.pt")
    path = tmp_path / "bad.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(ConfigError, match="bad.pt"):
        SwitchVAE.from_checkpoint(path)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("shift", [0.0, -6.0])
def test_logvar_init_sets_where_both_posteriors_start(shift: float) -> None:
    model = SwitchVAE(small_config(logvar_init=shift)).train()
    voxels, views = make_batch(batch=4)
    for encoder, inputs in ((model.voxel_encoder, voxels), (model.image_encoder, views)):
        _, logvar = encoder(inputs)
        # BatchNorm in training mode: per dimension, the batch mean of log σ² is the shift.
        torch.testing.assert_close(logvar.mean(0), torch.full((LATENT,), shift), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mode", "both"),
        ("aggregation", "mean"),
        ("p_voxel", 1.5),
        ("image_channels", 2),
        ("voxel_resolution", 30),
        ("latent_dim", 0),
        ("per_sample", "yes"),
        ("logvar_init", "low"),
        ("logvar_init", -50.0),
    ],
)
def test_model_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**{field: value})


def test_loss_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="align"):
        LossConfig(align="l1")
    with pytest.raises(ConfigError, match="temperature"):
        LossConfig(temperature=0.0)


# ---------------------------------------------------------------- ResNet-18


def torchvision_resnet18_keys() -> set[str]:
    """torchvision.models.resnet18().state_dict() keys, written out from its layout."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = {"conv1.weight", "fc.weight", "fc.bias", *(f"bn1.{s}" for s in bn)}
    for stage in range(1, 5):
        for block in range(2):
            prefix = f"layer{stage}.{block}"
            keys |= {f"{prefix}.conv1.weight", f"{prefix}.conv2.weight"}
            keys |= {f"{prefix}.bn{i}.{s}" for i in (1, 2) for s in bn}
            if stage > 1 and block == 0:
                keys |= {f"{prefix}.downsample.0.weight"}
                keys |= {f"{prefix}.downsample.1.{s}" for s in bn}
    return keys


def test_resnet_matches_torchvision_layout() -> None:
    model = ResNet18(num_classes=1000)
    keys = set(model.state_dict())
    assert keys == torchvision_resnet18_keys()
    assert len(keys) == 122
    for key in ("layer4.1.bn2.running_var", "layer2.0.downsample.0.weight", "fc.weight"):
        assert key in keys
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_RESNET18_PARAMETERS
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 1000)
    assert ResNet18()(torch.rand(2, 3, 32, 32)).shape == (2, 512)


@pytest.fixture
def fake_imagenet_file(tmp_path):
    """A torchvision-layout file without num_batches_tracked, like torchvision's own files."""
    source = ResNet18(num_classes=1000)
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.normal_()
    state = {k: v for k, v in source.state_dict().items() if "num_batches_tracked" not in k}
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(state, path)
    return path, state


def test_imagenet_weights_load(fake_imagenet_file) -> None:
    path, state = fake_imagenet_file
    model = SwitchVAE(small_config(imagenet_weights=str(path)))
    loaded = model.image_encoder.backbone.state_dict()
    for key, value in state.items():
        if not key.startswith("fc."):
            assert torch.equal(loaded[key], value), key


def test_imagenet_weights_into_gray_stem_sum_rgb(fake_imagenet_file) -> None:
    path, state = fake_imagenet_file
    model = ResNet18(in_channels=1)
    load_torchvision_state_dict(model, path)
    expected = state["conv1.weight"].sum(dim=1, keepdim=True)
    assert torch.equal(model.conv1.weight.detach(), expected)


def test_imagenet_weights_with_wrong_keys_fail(fake_imagenet_file, tmp_path) -> None:
    _, state = fake_imagenet_file
    state = dict(state)
    state["layer1.0.convX.weight"] = state.pop("layer1.0.conv1.weight")
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(ConfigError, match="wrong.pth"):
        load_torchvision_state_dict(ResNet18(), path)
    with pytest.raises(ConfigError, match="not found"):
        SwitchVAE(small_config(imagenet_weights=str(tmp_path / "none.pth")))
