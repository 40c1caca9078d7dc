"""Perceptual distances: the shipped offline weights load fully, missing files are named, no download."""
import pytest
import torch

from stylealign_core.inversion import InversionError, load_metric
from stylealign_core.inversion import perceptual

from services import require_stlpips


def test_stlpips_loads_every_weight_from_the_wheel():
    require_stlpips()
    metric = load_metric("stlpips-alex")
    assert metric.name == "stlpips-alex" and "shift_tolerant" in metric.detail
    state = torch.load(perceptual._package_dir("stlpips_pytorch") / "weights/vST0.0/alex_shift_tolerant.pth",
                       map_location="cpu", weights_only=True)
    torch.testing.assert_close(metric.backbone.layers[0].weight, state["net.slice1.0.weight"])
    torch.testing.assert_close(metric.head4.flatten(), state["lin4.model.1.weight"].flatten())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    near, far = (x + 0.05 * torch.randn_like(x)).clamp(-1, 1), torch.rand_like(x) * 2 - 1
    assert torch.allclose(metric(x, x), torch.zeros(2), atol=1e-6)
    assert torch.all(metric(x, near) < metric(x, far))
    assert metric(x[:, :, :16, :16], near[:, :, :16, :16]).shape == (2,)  # small images are upsampled


def test_unknown_and_missing_metrics_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(InversionError, match="unknown perceptual metric"):
        load_metric("lpips-squeeze")
    with pytest.raises(InversionError, match="--metric-file"):
        load_metric("vgg16-official")
    with pytest.raises(InversionError, match="not found"):
        load_metric("vgg16-official", tmp_path / "vgg16.pt")


def _fake_lpips_package(root):
    """An lpips package folder holding only its linear-head weights (as the real wheel does)."""
    heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate([64, 192, 384, 256, 256])}
    (root / "lpips" / "weights" / "v0.1").mkdir(parents=True)
    (root / "lpips" / "__init__.py").write_text("")
    torch.save(heads, root / "lpips" / "weights" / "v0.1" / "alex.pth")


def test_lpips_backbone_comes_from_the_torch_cache_or_is_named(tmp_path, monkeypatch):
    _fake_lpips_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(InversionError, match="alexnet-owt-7be5be79.pth"):
        load_metric("lpips-alex")
    # a backbone file in torchvision's layout (features.N.*, classifier ignored) is then used as is
    backbone = perceptual.build_backbone("alex", antialiased=False)
    state = {f"features.{k[len('layers.'):]}": v for k, v in backbone.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(2, 2)
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(state, hub / "alexnet-owt-7be5be79.pth")
    metric = load_metric("lpips-alex")
    assert metric.name == "lpips-alex"
    torch.testing.assert_close(metric.backbone.layers[0].weight, state["features.0.weight"])
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert float(metric(x, x)) == pytest.approx(0.0, abs=1e-6) and float(metric(x, -x)) > 0


class _FeatureNet(torch.nn.Module):
    """Stands in for NVlabs' vgg16.pt interface: (images in [0, 255], resize_images, return_lpips) -> features."""

    def forward(self, x: torch.Tensor, resize_images: bool = True, return_lpips: bool = False) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x / 255.0, 8).flatten(1)


def test_official_vgg16_file_is_used_through_its_interface(tmp_path):
    path = tmp_path / "vgg16.pt"
    torch.jit.script(_FeatureNet()).save(str(path))
    metric = load_metric("vgg16-official", path)
    assert metric.name == "vgg16-official"
    a, b = torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32)
    # features of [0,255] images: 0.5 vs 1.0 per 8x8 cell, 3*16 cells -> 48 * 0.25
    assert float(metric(a, b)) == pytest.approx(12.0)
