"""Loss functions against hand computations, and the stop-gradient variants of the alignment."""

from __future__ import annotations

import math

import pytest
import torch

from switchvae.errors import ConfigError
from switchvae.losses import (
    alignment_loss,
    compute_losses,
    kl_divergence,
    kl_weight_schedule,
    reconstruction_loss,
)
from switchvae.model.config import LossConfig
from switchvae.model.switchvae import SwitchOutput


def _neg_log_sigmoid(x: float) -> float:
    return -math.log(1.0 / (1.0 + math.exp(-x)))


def test_reconstruction_matches_hand_computation() -> None:
    logits = torch.tensor([[0.0, 2.0, -1.0], [3.0, -2.0, 0.5]]).view(2, 1, 1, 1, 3)
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]).view(2, 1, 1, 1, 3)
    per_sample = []
    for row_logits, row_target in zip(logits.flatten(1), target.flatten(1), strict=True):
        total = 0.0
        for x, t in zip(row_logits.tolist(), row_target.tolist(), strict=True):
            # -log(1 - σ(x)) = -log σ(-x)
            total += 0.8 * _neg_log_sigmoid(x) if t == 1.0 else 0.2 * _neg_log_sigmoid(-x)
        per_sample.append(total)
    expected = sum(per_sample) / len(per_sample)
    actual = reconstruction_loss(logits, target, pos_weight=0.8, neg_weight=0.2)
    assert actual.item() == pytest.approx(expected, rel=1e-6)


def test_reconstruction_weights_are_respected() -> None:
    logits = torch.randn(2, 1, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    full = torch.ones_like(logits)
    only_pos = reconstruction_loss(logits, full, pos_weight=0.8, neg_weight=0.2)
    assert only_pos == reconstruction_loss(logits, full, pos_weight=0.8, neg_weight=123.0)
    unweighted = torch.nn.functional.binary_cross_entropy_with_logits(logits, full, reduction="sum")
    assert only_pos.item() == pytest.approx(0.8 * unweighted.item() / 2, rel=1e-5)


def test_reconstruction_is_stable_for_extreme_logits() -> None:
    logits = torch.tensor([-200.0, 200.0]).view(1, 1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0]).view(1, 1, 1, 1, 2)
    assert reconstruction_loss(logits, target).item() == pytest.approx(0.8 * 200 + 0.2 * 200)


def test_kl_zero_for_standard_normal_and_hand_value() -> None:
    zeros = torch.zeros(3, 5)
    assert kl_divergence(zeros, zeros).item() == 0.0
    # μ = 1, log σ² = 0: 0.5·μ² = 0.5 per dimension, summed over K = 5.
    assert kl_divergence(torch.ones(3, 5), zeros).item() == pytest.approx(2.5)


def test_kl_schedule_is_cyclical() -> None:
    schedule = [kl_weight_schedule(e, cycle_epochs=200, ramp_fraction=0.5) for e in range(401)]
    assert schedule[0] == 0.0
    assert schedule[50] == pytest.approx(0.5)
    assert schedule[100] == 1.0 and schedule[199] == 1.0
    assert schedule[200] == schedule[0] == 0.0  # the public code's bug left this at 1
    assert schedule[250] == schedule[50]
    assert kl_weight_schedule(75, 100, 0.5, max_weight=0.1) == pytest.approx(0.1)
    assert kl_weight_schedule(0, 100, ramp_fraction=0.0, max_weight=0.3) == pytest.approx(0.3)
    with pytest.raises(ConfigError):
        kl_weight_schedule(-1, 100)


@pytest.mark.parametrize("kind", ["mse", "cosine"])
def test_alignment_zero_when_identical_and_positive_otherwise(kind: str) -> None:
    z = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    assert alignment_loss(z, z.clone(), kind).item() == pytest.approx(0.0, abs=1e-6)
    assert alignment_loss(z, z.flip(0), kind).item() > 0.1


def test_mse_is_summed_over_latent_and_averaged_over_batch() -> None:
    a, b = torch.zeros(2, 3), torch.ones(2, 3)
    assert alignment_loss(a, b, "mse").item() == pytest.approx(3.0)


def test_infonce_lower_for_aligned_pairs() -> None:
    g = torch.Generator().manual_seed(2)
    z_voxel = torch.randn(8, 16, generator=g)
    z_image = z_voxel + 0.1 * torch.randn(8, 16, generator=g)
    aligned = alignment_loss(z_voxel, z_image, "infonce", temperature=0.1)
    shuffled = alignment_loss(z_voxel, z_image.roll(1, dims=0), "infonce", temperature=0.1)
    assert aligned.item() < 0.1 < shuffled.item()


@pytest.mark.parametrize("kind", ["mse", "cosine", "infonce"])
@pytest.mark.parametrize("stop_grad", ["none", "chosen", "other"])
def test_alignment_stop_gradient_detaches_the_right_side(kind: str, stop_grad: str) -> None:
    g = torch.Generator().manual_seed(3)
    z_voxel = torch.randn(4, 5, generator=g, requires_grad=True)
    z_image = torch.randn(4, 5, generator=g, requires_grad=True)
    use_voxel = torch.tensor([True, False, True, False])
    alignment_loss(z_voxel, z_image, kind, 0.5, stop_grad, use_voxel).backward()
    voxel_rows = z_voxel.grad.abs().sum(dim=1) > 0
    image_rows = z_image.grad.abs().sum(dim=1) > 0
    if stop_grad == "none":
        assert voxel_rows.all() and image_rows.all()
    elif stop_grad == "chosen":  # the branch that fed the decoder is the fixed target
        assert torch.equal(voxel_rows, ~use_voxel) and torch.equal(image_rows, use_voxel)
    else:
        assert torch.equal(voxel_rows, use_voxel) and torch.equal(image_rows, ~use_voxel)


def test_alignment_stop_gradient_needs_the_mask() -> None:
    z = torch.zeros(2, 3)
    with pytest.raises(ConfigError, match="use_voxel"):
        alignment_loss(z, z, "mse", stop_grad="chosen")


def _fake_output(with_image: bool) -> SwitchOutput:
    g = torch.Generator().manual_seed(4)

    def latent() -> torch.Tensor:
        return torch.randn(2, 3, generator=g)

    image = (latent(), latent(), latent()) if with_image else (None, None, None)
    return SwitchOutput(
        latent(), latent(), latent(), *image,
        use_voxel=torch.tensor([True, True]),
        z_decoder=latent(), mu_chosen=latent(), logvar_chosen=latent(),
        recon_logits=torch.randn(2, 1, 4, 4, 4, generator=g),
    )  # fmt: skip


def test_compute_losses_combines_the_terms() -> None:
    output = _fake_output(with_image=True)
    voxels = (torch.rand(2, 1, 4, 4, 4, generator=torch.Generator().manual_seed(5)) > 0.5).float()
    config = LossConfig(align_weight=2.0, align_on="sample")
    losses = compute_losses(output, voxels, config, kl_weight=0.25)
    assert losses.reconstruction == reconstruction_loss(output.recon_logits, voxels)
    assert losses.kl == kl_divergence(output.mu_chosen, output.logvar_chosen)
    assert losses.alignment == alignment_loss(output.z_voxel, output.z_image)
    expected = losses.reconstruction + 0.25 * losses.kl + 2.0 * losses.alignment
    torch.testing.assert_close(losses.total, expected)
    assert set(losses.as_dict()) == {"total", "reconstruction", "kl", "alignment"}
    on_means = compute_losses(output, voxels, LossConfig(), kl_weight=0.25)
    assert on_means.alignment == alignment_loss(output.mu_voxel, output.mu_image)


def test_single_branch_has_zero_alignment() -> None:
    voxels = torch.zeros(2, 1, 4, 4, 4)
    losses = compute_losses(_fake_output(with_image=False), voxels, LossConfig(), kl_weight=1.0)
    assert losses.alignment.item() == 0.0
