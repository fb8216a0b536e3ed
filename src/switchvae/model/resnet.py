"""ResNet-18 (He et al. 2016) with torchvision's parameter names, and an ImageNet weight loader.

torchvision is not a dependency of this project, so the network is written here. Module and
buffer names match ``torchvision.models.resnet18().state_dict()`` (``conv1``, ``bn1``,
``layer1.0.conv1``, ..., ``layer2.0.downsample.0``, ``fc``), so a checkpoint saved by
torchvision loads with :func:`load_torchvision_state_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from switchvae.errors import ConfigError

STAGE_CHANNELS = (64, 128, 256, 512)
BLOCKS_PER_STAGE = 2
FEATURE_DIM = STAGE_CHANNELS[-1]
STEM_CHANNELS = STAGE_CHANNELS[0]
RGB_CHANNELS = 3
CLASSIFIER_PREFIX = "fc."
OPTIONAL_KEY_SUFFIX = "num_batches_tracked"  # absent from older torchvision checkpoints


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (projected when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18: 7×7/2 stem + 3×3/2 max pool, four stages of two BasicBlocks, global pool.

    Args:
        in_channels: C of the input images (3 for RGB, 1 for gray).
        num_classes: size of the ``fc`` classifier; None leaves it out and ``forward`` returns
            the 512 pooled features (what the image encoder uses).
    """

    def __init__(self, in_channels: int = RGB_CHANNELS, num_classes: int | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, STEM_CHANNELS, 7, 2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_ch = STEM_CHANNELS
        for index, out_ch in enumerate(STAGE_CHANNELS, start=1):
            first_stride = 1 if index == 1 else 2
            blocks = [BasicBlock(in_ch, out_ch, first_stride)]
            blocks += [BasicBlock(out_ch, out_ch, 1) for _ in range(BLOCKS_PER_STAGE - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
            in_ch = out_ch
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = None if num_classes is None else nn.Linear(FEATURE_DIM, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's initialization: He (fan-out) for convolutions, BN to identity."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def feature_map(self, x: Tensor) -> Tensor:
        """Images (N, C, H, W) -> the last stage's map (N, 512, ⌈H/32⌉, ⌈W/32⌉)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: Tensor) -> Tensor:
        """Images (N, C, H, W) -> pooled features (N, 512), or logits (N, num_classes)."""
        features = torch.flatten(self.avgpool(self.feature_map(x)), 1)
        return features if self.fc is None else self.fc(features)


def _read_state_dict(path: Path) -> Mapping[str, Tensor]:
    if not path.is_file():
        raise ConfigError(f"imagenet_weights: file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable or unsafe pickle
        raise ConfigError(f"imagenet_weights: cannot read {path}: {error}") from error
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ConfigError(f"imagenet_weights: {path} is not a state_dict of tensors")
    return state


def _adapt_stem(weight: Tensor, in_channels: int) -> Tensor:
    """RGB stem kernels (64, 3, 7, 7) -> (64, 1, 7, 7) for gray input by summing over RGB.

    A gray image copied into R, G and B gives conv(w_R·g + w_G·g + w_B·g) = conv((Σ w)·g), so
    the summed kernel reproduces the RGB network's response to a gray image.
    """
    if in_channels == 1 and weight.shape[1] == RGB_CHANNELS:
        return weight.sum(dim=1, keepdim=True)
    return weight


def load_torchvision_state_dict(model: ResNet18, path: str | Path) -> None:
    """Load ResNet-18 weights saved in torchvision's layout (e.g. ImageNet) into ``model``.

    The ``fc`` classifier in the file is ignored. A 1-channel ``model`` gets the file's RGB
    stem summed over its input channels (see :func:`_adapt_stem`).

    Args:
        model: the network to fill in place.
        path: local file written by ``torch.save(resnet18.state_dict(), path)``.

    Raises:
        ConfigError: the file is missing or unreadable, or its keys or shapes do not match.
    """
    path = Path(path)
    state = {k: v for k, v in _read_state_dict(path).items() if not k.startswith(CLASSIFIER_PREFIX)}
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(CLASSIFIER_PREFIX)}
    if "conv1.weight" in state:
        state["conv1.weight"] = _adapt_stem(state["conv1.weight"], model.conv1.in_channels)
    unknown = sorted(set(state) - set(expected))
    missing = sorted(k for k in set(expected) - set(state) if not k.endswith(OPTIONAL_KEY_SUFFIX))
    if unknown or missing:
        raise ConfigError(
            f"imagenet_weights: {path} is not a torchvision resnet18 state_dict "
            f"(unknown keys: {unknown[:5]}, missing keys: {missing[:5]})"
        )
    wrong = [k for k, v in state.items() if v.shape != expected[k].shape]
    if wrong:
        key = wrong[0]
        raise ConfigError(
            f"imagenet_weights: {path}: {key} has shape {tuple(state[key].shape)}, "
            f"expected {tuple(expected[key].shape)}"
        )
    model.load_state_dict(state, strict=False)
