"""Perceptual distances for inversion, all loaded offline; every output records which one ran.

``load_metric(name, file=None)`` returns a :class:`PerceptualDistance` (images in [-1, 1] -> one
distance per image). Names:

* ``stlpips-vgg`` (default), ``stlpips-alex``: shift-tolerant LPIPS. The trained weights (backbone,
  linear heads and input scaling, all in one state dict) ship inside the ``stlpips-pytorch`` wheel
  (``weights/vST0.0/*_shift_tolerant.pth``; ``pip install 'stylealign[invert]'``). Only those files are
  read (``torch.load(weights_only=True)``, every key required); the package's own code imports
  torchvision, IPython and torchsummary and is never imported. The anti-aliased backbones are built here.
* ``lpips-vgg``, ``lpips-alex``: LPIPS v0.1. Linear heads from the installed ``lpips`` package's
  ``weights/v0.1`` folder, ImageNet backbone from the user's torch hub cache
  (``<torch hub dir>/checkpoints/vgg16-397923af.pth`` / ``alexnet-owt-7be5be79.pth``, what torchvision
  downloads). Nothing is downloaded: a missing file is an error naming the file and how to get it.
* ``vgg16-official``: the TorchScript ``vgg16.pt`` of NVlabs' projector, from ``file`` (the user's copy):
  features of images in [0, 255], distance = squared feature difference, summed.

Images larger than 256 px are area-downsampled to 256 (as the official projector does); images smaller
than a backbone's minimum are upsampled (bilinear) to it. There is no random backbone here: tests build
their own :class:`LinearFeatureDistance` from explicit modules.
"""
from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from .errors import InversionError

METRICS = ("stlpips-vgg", "stlpips-alex", "lpips-vgg", "lpips-alex", "vgg16-official")
DEFAULT_METRIC = "stlpips-vgg"
MAX_SIZE = 256
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # LPIPS v0.1 input scaling (ImageNet-like statistics)
_LPIPS_SCALE = (0.458, 0.448, 0.450)
_TORCH_HUB_FILES = {"vgg": "vgg16-397923af.pth", "alex": "alexnet-owt-7be5be79.pth"}
_INSTALL_STLPIPS = "pip install -c constraints.txt 'stylealign[invert]' (stlpips-pytorch ships its weights)"


class PerceptualDistance(torch.nn.Module):
    """Base: ``forward(a, b)`` -> distance per image ``[N]``; ``name`` is recorded in every output.

    ``embed(images)`` -> features and ``between(fa, fb)`` -> distances split the two halves, so a
    projector embeds its fixed targets once instead of at every step."""

    name: str = ""
    detail: str = ""
    min_size: int = 1

    def embed(self, images: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def between(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n = a.shape[0]
        feats = self.embed(torch.cat([a, b]))
        return self.between([f[:n] for f in feats], [f[n:] for f in feats])

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        size = images.shape[-1]
        if size > MAX_SIZE:
            return F.adaptive_avg_pool2d(images, (MAX_SIZE, MAX_SIZE))
        if size < self.min_size:
            return F.interpolate(images, size=(self.min_size, self.min_size), mode="bilinear", align_corners=False)
        return images


class BlurDownsample(torch.nn.Module):
    """Anti-aliased stride-2 downsampling: reflect-pad 2, depthwise [1,2,1]x[1,2,1]/16 filter."""

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(taps, taps) / 16
        self.register_buffer("filt", kernel.expand(channels, 1, 3, 3).clone())

    def forward(self, x):
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class Backbone(torch.nn.Module):
    """A flat sequence of layers; ``forward`` returns the outputs after the ``taps`` indices."""

    def __init__(self, layers: list[torch.nn.Module], taps: list[int]):
        super().__init__()
        self.layers = torch.nn.Sequential(*layers)
        self.taps = list(taps)

    def forward(self, x) -> list[torch.Tensor]:
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.taps:
                outs.append(x)
                if len(outs) == len(self.taps):
                    break
        return outs


def _vgg16_layers(antialiased: bool) -> tuple[list, list[int]]:
    plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
    layers, taps, channels = [], [], 3
    for item in plan:
        if item == "M":
            taps.append(len(layers) - 1)  # relu1_2, relu2_2, relu3_3, relu4_3 come just before a pooling
            if antialiased:
                layers += [torch.nn.MaxPool2d(2, stride=1), BlurDownsample(channels)]
            else:
                layers.append(torch.nn.MaxPool2d(2, stride=2))
        else:
            layers += [torch.nn.Conv2d(channels, item, 3, padding=1), torch.nn.ReLU()]
            channels = item
    taps.append(len(layers) - 1)  # relu5_3
    return layers, taps


def _alexnet_layers(antialiased: bool) -> tuple[list, list[int]]:
    conv, relu = torch.nn.Conv2d, torch.nn.ReLU
    if not antialiased:
        layers = [conv(3, 64, 11, stride=4, padding=2), relu(), torch.nn.MaxPool2d(3, stride=2),
                  conv(64, 192, 5, padding=2), relu(), torch.nn.MaxPool2d(3, stride=2),
                  conv(192, 384, 3, padding=1), relu(), conv(384, 256, 3, padding=1), relu(),
                  conv(256, 256, 3, padding=1), relu()]
        return layers, [1, 4, 7, 9, 11]
    layers = [conv(3, 64, 11, stride=1, padding=2), BlurDownsample(64), relu(),
              torch.nn.MaxPool2d(3, stride=1), BlurDownsample(64), conv(64, 192, 5, padding=2), relu(),
              torch.nn.MaxPool2d(3, stride=1), BlurDownsample(192), conv(192, 384, 3, padding=1), relu(),
              conv(384, 256, 3, padding=1), relu(), conv(256, 256, 3, padding=1), relu()]
    return layers, [2, 6, 10, 12, 14]


def build_backbone(net: str, antialiased: bool) -> Backbone:
    """VGG16 or AlexNet features (torchvision's layer indices; anti-aliased: the shift-tolerant variant)."""
    layers, taps = (_vgg16_layers if net == "vgg" else _alexnet_layers)(antialiased)
    return Backbone(layers, taps)


class LinearFeatureDistance(PerceptualDistance):
    """LPIPS form: unit-normalise each tapped feature map over channels, square the difference,
    weight channels (``heads[k]``: [C_k]), average over space, sum over taps."""

    def __init__(self, backbone: Backbone, heads: list[torch.Tensor], shift, scale, name: str,
                 detail: str = "", min_size: int = 32):
        super().__init__()
        self.backbone, self.name, self.detail, self.min_size = backbone, name, detail, min_size
        for k, head in enumerate(heads):
            self.register_buffer(f"head{k}", head.reshape(1, -1, 1, 1).float().clone())
        self.num_heads = len(heads)
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def embed(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (self.prepare(images.float()) - self.shift) / self.scale
        return [f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10) for f in self.backbone(x)]

    def between(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        total = 0
        for k, (a, b) in enumerate(zip(fa, fb)):
            total = total + ((a - b).square() * getattr(self, f"head{k}")).sum(dim=1).mean(dim=(1, 2))
        return total


class TorchScriptVGG16Distance(PerceptualDistance):
    """NVlabs' ``vgg16.pt``: ``module(img_0_255, resize_images=False, return_lpips=True)`` -> features."""

    def __init__(self, module, name: str, detail: str):
        super().__init__()
        self.module, self.name, self.detail = module, name, detail
        self.min_size = 32

    def embed(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (self.prepare(images.float()) + 1) * 127.5
        return [self.module(x, resize_images=False, return_lpips=True)]

    def between(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        return (fa[0] - fb[0]).square().sum(dim=1)


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _load_state(path: Path, what: str, fix: str) -> dict:
    if not path.is_file():
        raise InversionError(f"{what} not found: {path}", fix)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: name it
        raise InversionError(f"{what} {path} is unreadable ({type(exc).__name__}: {exc})", fix) from None


def _load_strict(module: torch.nn.Module, state: dict, source: Path) -> None:
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InversionError(f"{source} does not fit the expected network (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})", "reinstall the package that ships it")


def _flat_backbone_state(state: dict, prefix_filter) -> dict:
    """Keys like ``net.slice2.5.filt`` / ``features.5.weight`` -> ``layers.5.filt``."""
    out = {}
    for key, value in state.items():
        index_and_param = prefix_filter(key)
        if index_and_param:
            out[f"layers.{index_and_param}"] = value
    return out


def load_stlpips(net: str) -> LinearFeatureDistance:
    folder = _package_dir("stlpips_pytorch")
    if folder is None:
        raise InversionError("the stlpips-pytorch weights are not installed", _INSTALL_STLPIPS)
    path = folder / "weights" / "vST0.0" / f"{net}_shift_tolerant.pth"
    state = _load_state(path, "shift-tolerant LPIPS weights", _INSTALL_STLPIPS)
    backbone = build_backbone(net, antialiased=True)
    flat = _flat_backbone_state(state, lambda k: k.split(".", 2)[2] if k.startswith("net.slice") else None)
    _load_strict(backbone, flat, path)
    heads = [state[f"lin{k}.model.1.weight"] for k in range(len(backbone.taps))]
    return LinearFeatureDistance(backbone, heads, state["scaling_layer.shift"].flatten(),
                                 state["scaling_layer.scale"].flatten(), name=f"stlpips-{net}",
                                 detail=f"stlpips-pytorch {path.name} (shift-tolerant LPIPS)")


def load_lpips(net: str) -> LinearFeatureDistance:
    folder = _package_dir("lpips")
    if folder is None:
        raise InversionError("the lpips package is not installed (its linear heads are needed)",
                             "pip install lpips, or use --metric stlpips-vgg")
    heads_path = folder / "weights" / "v0.1" / f"{net}.pth"
    heads_state = _load_state(heads_path, "LPIPS linear heads", "reinstall lpips")
    hub = Path(torch.hub.get_dir()) / "checkpoints" / _TORCH_HUB_FILES[net]
    fix = (f"copy torchvision's ImageNet {net} weights to {hub} (set TORCH_HOME to move the cache), "
           "or use --metric stlpips-vgg")
    backbone_state = _load_state(hub, f"the {net} ImageNet backbone of LPIPS", fix)
    backbone = build_backbone(net, antialiased=False)
    flat = _flat_backbone_state(backbone_state,
                                lambda k: k[len("features."):] if k.startswith("features.") else None)
    _load_strict(backbone, flat, hub)
    heads = [heads_state[f"lin{k}.model.1.weight"] for k in range(len(backbone.taps))]
    return LinearFeatureDistance(backbone, heads, _LPIPS_SHIFT, _LPIPS_SCALE, name=f"lpips-{net}",
                                 detail=f"lpips v0.1 heads + {hub.name}", min_size=16)


def load_official_vgg16(file: str | os.PathLike | None) -> TorchScriptVGG16Distance:
    fix = "pass --metric-file PATH to NVlabs' vgg16.pt (TorchScript), or use --metric stlpips-vgg"
    if not file:
        raise InversionError("--metric vgg16-official needs the vgg16.pt file", fix)
    path = Path(file).expanduser()
    if not path.is_file():
        raise InversionError(f"vgg16.pt not found: {path}", fix)
    try:
        with warnings.catch_warnings():  # torch >= 2.9 marks TorchScript deprecated; NVlabs' file is one
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:
        raise InversionError(f"{path} is not a TorchScript file ({type(exc).__name__})", fix) from None
    for p in module.parameters():
        p.requires_grad_(False)
    return TorchScriptVGG16Distance(module, "vgg16-official", f"NVlabs vgg16.pt ({path.name})")


def load_metric(name: str = DEFAULT_METRIC, file: str | os.PathLike | None = None) -> PerceptualDistance:
    """The perceptual distance called ``name`` (one of :data:`METRICS`), loaded without any download."""
    if name not in METRICS:
        raise InversionError(f"unknown perceptual metric {name!r}", f"use one of {', '.join(METRICS)}")
    family, _, net = name.partition("-")
    if family == "stlpips":
        return load_stlpips(net)
    if family == "lpips":
        return load_lpips(net)
    return load_official_vgg16(file)
