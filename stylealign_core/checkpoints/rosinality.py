"""Import (and export, for interop and tests) rosinality/stylegan2-pytorch ``.pt`` checkpoints.

A training checkpoint is ``{g, d, g_ema, g_optim, d_optim, args, ada_aug_p}``; a converted one is
``{g_ema, latent_avg}`` (optionally ``g``, ``d``). It is read with ``torch.load(weights_only=True)``
(``argparse.Namespace`` allowlisted for ``args``). Key mapping, for a generator of size R:

    style.{i+1}.{weight,bias}          -> mapping.fc{i}.{weight,bias}
    input.input [1,C,4,4]              -> synthesis.b4.const [C,4,4]
    conv1 / to_rgb1                    -> synthesis.b4.conv1 / synthesis.b4.torgb
    convs.{2k} / convs.{2k+1}          -> synthesis.b{8*2^k}.conv0 (up) / .conv1
    to_rgbs.{k}                        -> synthesis.b{8*2^k}.torgb
      *.conv.weight [1,O,I,k,k]        -> *.weight [O,I,k,k]
      *.conv.modulation.{weight,bias}  -> *.affine.{weight,bias}
      *.noise.weight [1]               -> *.noise_strength []
      *.activate.bias / to_rgb bias [1,3,1,1] -> *.bias [O]
    noises.noise_{j} [1,1,r,r]         -> noise_const [r,r] (j=0: b4.conv1, then conv0/conv1 per block)
    latent_avg                         -> mapping.w_avg (estimated from 10k samples if absent)
  discriminator: convs.0 -> b{R}.fromrgb, convs.{k}.conv1/conv2/skip -> b{r}.conv0/conv1/skip,
    final_conv -> b4.conv, final_linear.0/.1 -> b4.fc/b4.out.

rosinality's modulated conv scales the weight by 1/sqrt(fan_in) before demodulating; the factor
cancels in the demodulation (up to the 1e-8 epsilon), so weights copy unchanged. Its fixed blur
kernels are checked to be the standard [1,3,3,1] filter and dropped (ours are rebuilt).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from .. import ops
from ..generator import MappingNetwork
from .errors import CheckpointError
from .networks import NetworkSpec, RawCheckpoint, fill_resample_filters

FORMAT = "rosinality-pt"
ENTRIES = {"g": "G", "d": "D", "g_ema": "G_ema"}
W_AVG_SAMPLES = 10_000


def _ros_kernel(factor: int = 1) -> torch.Tensor:
    return ops.setup_filter([1, 3, 3, 1]) * factor ** 2


def infer_channels(channels: dict[int, int], source, what: str, preferred: list[int] = ()) -> tuple[int, int]:
    """(channel_base, channel_max) with min(base // res, max) == channels[res] for every resolution.

    rosinality's channel_multiplier m is channel_base = 16384 * m, channel_max = 512 (``preferred``)."""
    cmax = max(channels.values())
    below = [res * ch for res, ch in channels.items() if ch < cmax]
    candidates = list(preferred) + (sorted(set(below)) or [cmax * max(channels)])
    for base in candidates:
        if all(min(base // res, cmax) == ch for res, ch in channels.items()):
            return base, cmax
    raise CheckpointError(source, f"{what} channel counts {dict(sorted(channels.items()))} do not follow "
                          "min(channel_base // res, channel_max)")


def _check_kernel(t: torch.Tensor, key: str, source) -> None:
    k = t.detach().float()
    if k.shape != (4, 4) or not torch.allclose(k / k.sum(), ops.setup_filter([1, 3, 3, 1]), atol=1e-6):
        raise CheckpointError(source, f"{key} is not the standard [1,3,3,1] blur kernel; cannot convert")


def _take(state: dict, key: str, source, what: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(source, f"{what}: missing tensor {key}",
                              "the file is not a rosinality StyleGAN2 checkpoint")
    return state.pop(key)


def generator_from_rosinality(state: dict, latent_avg, source, args=None, what="g_ema") -> NetworkSpec:
    state = dict(state)
    out: dict[str, torch.Tensor] = {}
    n_mlp = sum(1 for k in state if re.fullmatch(r"style\.\d+\.weight", k))
    if n_mlp == 0 or "input.input" not in state:
        raise CheckpointError(source, f"{what} is not a rosinality StyleGAN2 generator (no style.* / input.input)")
    for i in range(n_mlp):
        for p in ("weight", "bias"):
            out[f"mapping.fc{i}.{p}"] = _take(state, f"style.{i + 1}.{p}", source, what)
    w_dim = out["mapping.fc0.weight"].shape[1]
    const = _take(state, "input.input", source, what)
    out["synthesis.b4.const"] = const[0]
    num_up = sum(1 for k in state if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k))
    size = 4 * 2 ** num_up
    channels = {4: const.shape[1]}

    def styled(src: str, dst: str, res: int, up: bool):
        w = _take(state, f"{src}.conv.weight", source, what)
        out[f"{dst}.weight"] = w[0]
        out[f"{dst}.affine.weight"] = _take(state, f"{src}.conv.modulation.weight", source, what)
        out[f"{dst}.affine.bias"] = _take(state, f"{src}.conv.modulation.bias", source, what)
        out[f"{dst}.noise_strength"] = _take(state, f"{src}.noise.weight", source, what).reshape([])
        out[f"{dst}.bias"] = _take(state, f"{src}.activate.bias", source, what)
        if up:
            _check_kernel(_take(state, f"{src}.conv.blur.kernel", source, what), f"{src}.conv.blur.kernel", source)
        channels[res] = w.shape[1]

    def torgb(src: str, dst: str, up: bool):
        out[f"{dst}.weight"] = _take(state, f"{src}.conv.weight", source, what)[0]
        out[f"{dst}.affine.weight"] = _take(state, f"{src}.conv.modulation.weight", source, what)
        out[f"{dst}.affine.bias"] = _take(state, f"{src}.conv.modulation.bias", source, what)
        out[f"{dst}.bias"] = _take(state, f"{src}.bias", source, what).reshape(-1)
        if up:
            _check_kernel(_take(state, f"{src}.upsample.kernel", source, what), f"{src}.upsample.kernel", source)

    styled("conv1", "synthesis.b4.conv1", 4, up=False)
    torgb("to_rgb1", "synthesis.b4.torgb", up=False)
    out["synthesis.b4.conv1.noise_const"] = _take(state, "noises.noise_0", source, what)[0, 0]
    for k in range(num_up):
        res = 8 * 2 ** k
        styled(f"convs.{2 * k}", f"synthesis.b{res}.conv0", res, up=True)
        styled(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", res, up=False)
        torgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb", up=True)
        out[f"synthesis.b{res}.conv0.noise_const"] = _take(state, f"noises.noise_{2 * k + 1}", source, what)[0, 0]
        out[f"synthesis.b{res}.conv1.noise_const"] = _take(state, f"noises.noise_{2 * k + 2}", source, what)[0, 0]
    if state:
        raise CheckpointError(source, f"{what}: unexpected tensors {sorted(state)[:6]}",
                              "not a rosinality StyleGAN2 generator (swagan and other variants do not convert)")
    base, cmax = infer_channels(channels, source, what, _preferred_base(args))
    config = dict(z_dim=w_dim, w_dim=w_dim, img_resolution=size, img_channels=out["synthesis.b4.torgb.weight"].shape[0],
                  c_dim=0, mapping_layers=n_mlp, channel_base=base, channel_max=cmax, conv_clamp=None,
                  mapping_lr_multiplier=0.01, w_avg_beta=0.995, layer_features=None, use_noise=True)
    _check_args(args, config, source)
    notes = []
    if latent_avg is not None:
        out["mapping.w_avg"] = torch.as_tensor(latent_avg).detach().float().reshape(-1)
    else:
        out["mapping.w_avg"] = estimate_w_avg(out, config)
        notes.append(f"{what}: no latent_avg in the file; mapping.w_avg estimated from {W_AVG_SAMPLES} "
                     "samples (seed 0)")
    return NetworkSpec("Generator", config, fill_resample_filters("Generator", config, out), notes=notes)


def estimate_w_avg(state: dict, config: dict) -> torch.Tensor:
    """Mean of the mapping output over W_AVG_SAMPLES standard-normal z (seed 0): rosinality's mean_latent."""
    mapping = MappingNetwork(config["z_dim"], 0, config["w_dim"], num_ws=None, num_layers=config["mapping_layers"],
                             lr_multiplier=config["mapping_lr_multiplier"], w_avg_beta=None)
    mapping.load_state_dict({k[len("mapping."):]: v.float() for k, v in state.items()
                             if k.startswith("mapping.fc")}, strict=True)
    z = torch.randn([W_AVG_SAMPLES, config["z_dim"]], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return mapping(z).mean(dim=0)


def _check_args(args, config: dict, source) -> None:
    if args is None:
        return
    arch = getattr(args, "arch", "stylegan2")
    if arch != "stylegan2":
        raise CheckpointError(source, f"args.arch={arch!r}: only rosinality's 'stylegan2' architecture converts")
    size = getattr(args, "size", None)
    if size is not None and size != config["img_resolution"]:
        raise CheckpointError(source, f"args.size={size} but the weights are {config['img_resolution']}px")


def _preferred_base(args) -> list[int]:
    """channel_base values to try first: 16384 * args.channel_multiplier, else rosinality's default (2), then 1."""
    cm = getattr(args, "channel_multiplier", None)
    return [16384 * cm] if isinstance(cm, int) and cm > 0 else [32768, 16384]


def discriminator_from_rosinality(state: dict, source, what="d", args=None) -> NetworkSpec:
    state = dict(state)
    out: dict[str, torch.Tensor] = {}
    fromrgb = _take(state, "convs.0.0.weight", source, what)
    num_blocks = sum(1 for k in state if re.fullmatch(r"convs\.\d+\.conv1\.0\.weight", k))
    size = 4 * 2 ** num_blocks
    out[f"b{size}.fromrgb.weight"] = fromrgb
    out[f"b{size}.fromrgb.bias"] = _take(state, "convs.0.1.bias", source, what)
    channels = {size: fromrgb.shape[0]}
    for k in range(1, num_blocks + 1):
        res, src = size // 2 ** (k - 1), f"convs.{k}"
        out[f"b{res}.conv0.weight"] = _take(state, f"{src}.conv1.0.weight", source, what)
        out[f"b{res}.conv0.bias"] = _take(state, f"{src}.conv1.1.bias", source, what)
        out[f"b{res}.conv1.weight"] = _take(state, f"{src}.conv2.1.weight", source, what)
        out[f"b{res}.conv1.bias"] = _take(state, f"{src}.conv2.2.bias", source, what)
        out[f"b{res}.skip.weight"] = _take(state, f"{src}.skip.1.weight", source, what)
        for key in (f"{src}.conv2.0.kernel", f"{src}.skip.0.kernel"):
            _check_kernel(_take(state, key, source, what), key, source)
        channels[res] = out[f"b{res}.conv0.weight"].shape[0]
        channels[res // 2] = out[f"b{res}.conv1.weight"].shape[0]
    for src, dst in (("final_conv.0.weight", "b4.conv.weight"), ("final_conv.1.bias", "b4.conv.bias"),
                     ("final_linear.0.weight", "b4.fc.weight"), ("final_linear.0.bias", "b4.fc.bias"),
                     ("final_linear.1.weight", "b4.out.weight"), ("final_linear.1.bias", "b4.out.bias")):
        out[dst] = _take(state, src, source, what)
    if state:
        raise CheckpointError(source, f"{what}: unexpected tensors {sorted(state)[:6]}",
                              "not a rosinality StyleGAN2 discriminator")
    base, cmax = infer_channels(channels, source, what, _preferred_base(args))
    config = dict(img_resolution=size, img_channels=fromrgb.shape[1], c_dim=0, channel_base=base, channel_max=cmax,
                  conv_clamp=None, cmap_dim=None, mbstd_group_size=4, mbstd_num_channels=1, mapping_layers=8)
    return NetworkSpec("Discriminator", config, fill_resample_filters("Discriminator", config, out))


def read_rosinality(path: str | Path, sha256: str) -> RawCheckpoint:
    source = Path(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for truncated/unsafe files
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unsafe = "Unsupported global" in str(exc) or "weights_only" in str(exc)
        raise CheckpointError(source, ("refused by torch.load(weights_only=True): " if unsafe else
                                       "truncated or corrupt torch file: ") + text[:300],
                              "nothing was executed" if unsafe else "download or copy the file again") from None
    if not isinstance(obj, dict) or not any(isinstance(obj.get(k), dict) for k in ENTRIES):
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(source, f"no g, d or g_ema state dict in this torch file (found {keys})",
                              "expected a rosinality/stylegan2-pytorch checkpoint")
    args = obj.get("args")
    networks, notes = {}, []
    for key, name in ENTRIES.items():
        state = obj.get(key)
        if not isinstance(state, dict):
            continue
        if key == "d":
            networks[name] = discriminator_from_rosinality(state, source, what=key, args=args)
        else:
            latent_avg = obj.get("latent_avg") if key == "g_ema" else None
            networks[name] = generator_from_rosinality(state, latent_avg, source, args=args, what=key)
        notes.extend(networks[name].notes)
    metadata = {"imported_from": {"format": FORMAT, "file": source.name, "sha256": sha256}, "import_notes": notes}
    if args is not None:
        metadata["rosinality_args"] = {k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)
                                       for k, v in vars(args).items()}
    extra = {}
    if isinstance(obj.get("ada_aug_p"), (int, float)):
        extra["augment_pipe.p"] = torch.tensor(float(obj["ada_aug_p"]))
    return RawCheckpoint(format=FORMAT, source=source, sha256=sha256, networks=networks, extra=extra,
                         metadata=metadata)


# ---- export (inverse mapping) -------------------------------------------------------------------------
def generator_to_rosinality(state: dict, config: dict) -> tuple[dict, torch.Tensor]:
    """Our/official generator state dict -> (rosinality g state dict, latent_avg)."""
    out = {}
    for i in range(config["mapping_layers"]):
        for p in ("weight", "bias"):
            out[f"style.{i + 1}.{p}"] = state[f"mapping.fc{i}.{p}"]
    out["input.input"] = state["synthesis.b4.const"][None]

    def styled(src, dst, up):
        out[f"{dst}.conv.weight"] = state[f"{src}.weight"][None]
        if up:
            out[f"{dst}.conv.blur.kernel"] = _ros_kernel(2)
        out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = state[f"{src}.noise_strength"].reshape([1])
        out[f"{dst}.activate.bias"] = state[f"{src}.bias"]

    def torgb(src, dst, up):
        out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(1, -1, 1, 1)
        if up:
            out[f"{dst}.upsample.kernel"] = _ros_kernel(2)
        out[f"{dst}.conv.weight"] = state[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]

    styled("synthesis.b4.conv1", "conv1", False)
    torgb("synthesis.b4.torgb", "to_rgb1", False)
    noises = {0: state["synthesis.b4.conv1.noise_const"]}
    res, k = 8, 0
    while res <= config["img_resolution"]:
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * k}", True)
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", False)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}", True)
        noises[2 * k + 1] = state[f"synthesis.b{res}.conv0.noise_const"]
        noises[2 * k + 2] = state[f"synthesis.b{res}.conv1.noise_const"]
        res, k = res * 2, k + 1
    for j, n in noises.items():
        out[f"noises.noise_{j}"] = n[None, None]
    return out, state["mapping.w_avg"]


def discriminator_to_rosinality(state: dict, config: dict) -> dict:
    size = config["img_resolution"]
    out = {"convs.0.0.weight": state[f"b{size}.fromrgb.weight"], "convs.0.1.bias": state[f"b{size}.fromrgb.bias"]}
    res, k = size, 1
    while res > 4:
        src, dst = f"b{res}", f"convs.{k}"
        out.update({f"{dst}.conv1.0.weight": state[f"{src}.conv0.weight"],
                    f"{dst}.conv1.1.bias": state[f"{src}.conv0.bias"],
                    f"{dst}.conv2.0.kernel": _ros_kernel(), f"{dst}.conv2.1.weight": state[f"{src}.conv1.weight"],
                    f"{dst}.conv2.2.bias": state[f"{src}.conv1.bias"], f"{dst}.skip.0.kernel": _ros_kernel(),
                    f"{dst}.skip.1.weight": state[f"{src}.skip.weight"]})
        res, k = res // 2, k + 1
    out.update({"final_conv.0.weight": state["b4.conv.weight"], "final_conv.1.bias": state["b4.conv.bias"],
                "final_linear.0.weight": state["b4.fc.weight"], "final_linear.0.bias": state["b4.fc.bias"],
                "final_linear.1.weight": state["b4.out.weight"], "final_linear.1.bias": state["b4.out.bias"]})
    return out
