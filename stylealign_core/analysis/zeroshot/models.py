"""The zero-shot models: a small CNN classifier, a small foreground segmenter and a latent-code MLP.

All three are ``@register_network`` classes, so they save and load through the project's checkpoint format
(``save_checkpoint(path, {"model": m}, metadata=...)`` / ``load_checkpoint(path).networks["model"]``).

Image models take ``[B, 3, R, R]`` images either as ``uint8`` (0..255, as data sets store them) or as floats
in [-1, 1] (as generators produce them); :func:`prepare_images` converts and resizes to the model's
``resolution`` (the training default is 32 px: the 64 px emoji read at half size cost a quarter).
Sized for 2 CPU cores: 4 conv layers of 32-64 channels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import register_network
from .errors import ZeroShotError


def prepare_images(images, resolution: int) -> torch.Tensor:
    """``[B, 3, R, R]`` uint8 (0..255) or float ([-1, 1]) images as float32 in [-1, 1] at ``resolution``."""
    x = torch.as_tensor(images)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ZeroShotError(f"images must be [B, 3, R, R], got shape {list(x.shape)}; pass RGB image batches")
    x = x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
    return x


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@register_network
class ImageClassifier(nn.Module):
    """4 conv blocks (each halving the size: 32 -> 2 px), global average pool, a linear head -> class logits."""

    def __init__(self, num_classes: int, resolution: int = 64, width: int = 32):
        super().__init__()
        if num_classes < 2:
            raise ZeroShotError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.resolution = int(resolution)
        widths = [3, width, width * 2, width * 2, width * 2]
        layers = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [_conv_block(c_in, c_out), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, images) -> torch.Tensor:
        x = self.features(prepare_images(images, self.resolution))
        return self.head(x.mean(dim=(2, 3)))


@register_network
class ForegroundSegmenter(nn.Module):
    """A small encoder-decoder (2 downsamplings, 2 upsamplings, one skip): one foreground logit per pixel."""

    def __init__(self, resolution: int = 64, width: int = 32):
        super().__init__()
        self.resolution = int(resolution)
        self.enc1 = _conv_block(3, width)
        self.enc2 = _conv_block(width, width * 2)
        self.mid = _conv_block(width * 2, width * 2)
        self.dec2 = _conv_block(width * 4, width)
        self.dec1 = _conv_block(width * 2, width)
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, images) -> torch.Tensor:
        x = prepare_images(images, self.resolution)
        e1 = self.enc1(x)                                    # R
        e2 = self.enc2(F.max_pool2d(e1, 2))                  # R/2
        m = self.mid(F.max_pool2d(e2, 2))                    # R/4
        d2 = self.dec2(torch.cat([F.interpolate(m, scale_factor=2.0), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0), e1], 1))
        return self.out(d1)                                  # [B, 1, R, R] logits


@register_network
class LatentClassifier(nn.Module):
    """An MLP (one hidden layer; ``hidden=0``: linear) on a flattened latent code (W ``[B, 512]`` or W+ ``[B, L, 512]``)."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 256):
        super().__init__()
        if num_classes < 2:
            raise ZeroShotError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.in_features = int(in_features)
        if hidden:
            self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes))
        else:
            self.net = nn.Sequential(nn.Linear(in_features, num_classes))

    def forward(self, latents) -> torch.Tensor:
        x = torch.as_tensor(latents).float().reshape(len(latents), -1)
        if x.shape[1] != self.in_features:
            raise ZeroShotError(f"latents flatten to {x.shape[1]} numbers, this model takes {self.in_features}; "
                                "use latents of the space (W or W+) the model was trained on")
        return self.net(x)


@torch.no_grad()
def predict(model: nn.Module, inputs, batch: int = 256) -> torch.Tensor:
    """``model``'s outputs (logits) for ``inputs`` in evaluation mode, in batches."""
    was_training = model.training
    model.eval()
    try:
        outs = [model(inputs[i:i + batch]) for i in range(0, len(inputs), batch)]
    finally:
        model.train(was_training)
    return torch.cat(outs) if outs else torch.zeros(0)


class ToneAttribute:
    """A skin-tone classifier as an attribute model (images -> numbers), e.g. for ``control_transfer``.

    The value is the expected tone 1..5 under the classifier's probabilities of the five tones (class 0,
    the default yellow, left out and the rest renormalised): a continuous score that rises with the tone.
    """

    def __init__(self, model: ImageClassifier, classes: list):
        tones = [c for c in classes if isinstance(c, int) and not isinstance(c, bool)]
        if len(tones) != len(classes) or sorted(t for t in tones if t) != [1, 2, 3, 4, 5]:
            raise ZeroShotError(f"a skin-tone attribute needs classes covering tones 1..5, got {classes}; "
                                "load a model trained with --task skin_tone")
        self.model = model
        self.tone_index = [tones.index(t) for t in (1, 2, 3, 4, 5)]

    @torch.no_grad()
    def __call__(self, images) -> torch.Tensor:
        probs = predict(self.model, images).softmax(dim=1)[:, self.tone_index]
        probs = probs / probs.sum(dim=1, keepdim=True)
        return probs @ torch.arange(1, 6, dtype=probs.dtype)
