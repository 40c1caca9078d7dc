"""Encoder inversion: a small CNN (pSp/e4e-like, sized for CPU) that maps an image to W+ (or W) in one pass.

    E = Encoder.for_generator(G, generator_sha256, space="w+")    # head starts at zero: E(x) == w_avg
    codes = E(images)                     # [N, num_ws, w_dim] (space "w+") or [N, w_dim] (space "w")
    codes = encoder_codes(E, G, images, "w+")    # the same, then the refiner's K corrections (if it has one)
    save_encoder("runs/enc", E, metadata={...})                  # the checkpoint format, network "E"
    E, sha256 = load_encoder("runs/enc.json", generator_sha256)  # refused when trained for another G

Architecture: a 3x3 conv to ``channels`` features at the generator's resolution, then stride-2 blocks
(3x3 conv stride 2 + 3x3 conv, leaky ReLU) doubling the features up to ``channel_max`` until 4x4, then
a two-layer head (``hidden`` units) from the flattened 4x4 map plus the globally pooled features of every
block (a cheap stand-in for pSp's multi-level map2style) to an offset per style input: ``w = w_avg + offset``. With
``space="w"`` one offset is shared by all layers. The head's last layer is initialised at zero, so an untrained encoder
is the "null encoder" (the mean latent); ``w_avg`` is a buffer copied from the generator.

Feedback refinement (ReStyle-like, ``refine_iterations`` K > 0): a second trunk of the same shape (the
*refiner*) sees the image beside the generator's render of the current codes and predicts a correction;
:func:`encoder_codes` applies it K times (``codes = E.refine(x, G(codes), codes)``), so the encoder needs the
generator at inference (K extra forward passes, no gradients). Its head starts at zero too: an encoder given
a new refiner returns what it returned before.

The config records the generator's sha256 and the space; :func:`check_encoder` refuses a generator of
another sha256 (or shape). Registered in :mod:`stylealign_core.registry`, so ``save_checkpoint`` /
``load_checkpoint`` handle it like G and D (safetensors + JSON manifest, no pickle).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ..registry import register_network
from .errors import InversionError

ENCODER_NETWORK = "E"           # the network's name inside an encoder checkpoint
ENCODER_SPACES = ("w", "w+")


class _Block(torch.nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.down = torch.nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.conv = torch.nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.down(x), 0.2)
        return F.leaky_relu(self.conv(x), 0.2)


class _Features(torch.nn.Module):
    """The conv trunk and two-layer head shared by the encoder and its refiner (see the module doc)."""

    def _build(self, in_channels: int, out_features: int, img_resolution: int, channels: int, channel_max: int,
               hidden: int) -> None:
        self.from_rgb = torch.nn.Conv2d(in_channels, channels, 3, padding=1)
        blocks, cin, res = [], channels, img_resolution
        while res > 4:
            cout = min(cin * 2, channel_max)
            blocks.append(_Block(cin, cout))
            cin, res = cout, res // 2
        self.blocks = torch.nn.ModuleList(blocks)
        pooled = channels + sum(b.conv.out_channels for b in blocks)
        self.hidden = torch.nn.Linear(cin * 16 + pooled, hidden)
        self.head = torch.nn.Linear(hidden, out_features)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def _offset(self, x: torch.Tensor) -> torch.Tensor:
        """Flat head output ``[N, out_features]`` of an input ``[N, in_channels, R, R]``."""
        x = F.leaky_relu(self.from_rgb(x.float()), 0.2)
        pooled = [x.mean(dim=(2, 3))]
        for block in self.blocks:
            x = block(x)
            pooled.append(x.mean(dim=(2, 3)))
        if x.shape[-1] != 4:
            raise ValueError(f"encoder got an input of shape {list(x.shape)} after its blocks, not 4x4: "
                             f"images of another resolution than it was built for")
        return self.head(F.leaky_relu(self.hidden(torch.cat([x.flatten(1), *pooled], dim=1)), 0.2))


class _Refiner(_Features):
    """ReStyle-like feedback: (image, the generator's render of the current codes) -> a correction of the codes."""

    def __init__(self, img_resolution: int, img_channels: int, out_features: int, channels: int,
                 channel_max: int, hidden: int):
        super().__init__()
        self._build(2 * img_channels, out_features, img_resolution, channels, channel_max, hidden)


@register_network
class Encoder(_Features):
    """Image ``[N, C, R, R]`` in [-1, 1] -> W+ ``[N, num_ws, w_dim]`` (or W ``[N, w_dim]``), see the module doc."""

    def __init__(self, img_resolution: int, img_channels: int, w_dim: int, num_ws: int, space: str = "w+",
                 channels: int = 32, channel_max: int = 128, hidden: int = 256, generator_sha256: str = "",
                 refine_iterations: int = 0):
        super().__init__()
        if space not in ENCODER_SPACES:
            raise ValueError(f"encoder space must be one of {ENCODER_SPACES}, got {space!r}")
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        if refine_iterations < 0:
            raise ValueError(f"refine_iterations must be >= 0, got {refine_iterations}")
        self.img_resolution, self.img_channels, self.w_dim, self.num_ws = img_resolution, img_channels, w_dim, num_ws
        self.space, self.generator_sha256, self.refine_iterations = space, generator_sha256, refine_iterations
        out_features = w_dim * (num_ws if space == "w+" else 1)
        self._build(img_channels, out_features, img_resolution, channels, channel_max, hidden)
        self.refiner = (_Refiner(img_resolution, img_channels, out_features, channels, channel_max, hidden)
                        if refine_iterations else None)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def _shaped(self, offset: torch.Tensor) -> torch.Tensor:
        return offset if self.space == "w" else offset.view(-1, self.num_ws, self.w_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The first codes: ``w_avg`` + an offset predicted from the image alone."""
        return self.w_avg + self._shaped(self._offset(images))

    def refine(self, images: torch.Tensor, renders: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """One feedback iteration: ``codes`` + a correction predicted from the images and ``renders`` (the
        generator's images of ``codes``); needs ``refine_iterations`` > 0."""
        if self.refiner is None:
            raise InversionError("this encoder has no refiner", "train one: stylealign encoder train --init ENC "
                                 "--refine-iterations K")
        return codes + self._shaped(self.refiner._offset(torch.cat([images, renders.to(images)], dim=1)))

    @classmethod
    def for_generator(cls, G, generator_sha256: str, space: str = "w+", channels: int = 32,
                      channel_max: int = 128, hidden: int = 256, refine_iterations: int = 0) -> "Encoder":
        """A null encoder for ``G`` (output = G's w_avg; a refiner's corrections start at zero too) with the
        shapes and sha256 of that generator."""
        from .spaces import w_average
        E = cls(img_resolution=G.img_resolution, img_channels=G.img_channels, w_dim=G.w_dim, num_ws=G.num_ws,
                space=space, channels=channels, channel_max=channel_max, hidden=hidden,
                generator_sha256=generator_sha256, refine_iterations=refine_iterations)
        E.w_avg.copy_(w_average(G).cpu())
        return E


def widen_hidden(state: dict, hidden: int, seed: int = 0) -> dict:
    """An encoder state dict with ``hidden`` units in the head's hidden layer instead of its own, computing the
    same function (Net2Net-style): the new units get random input weights and zero output weights, so the
    widened encoder starts exactly where ``state`` was and training grows into the new units."""
    weight, bias, out = state["hidden.weight"], state["hidden.bias"], state["head.weight"]
    old, fan_in = weight.shape
    if hidden < old:
        raise ValueError(f"cannot narrow the encoder's hidden layer from {old} to {hidden} units")
    bound = 1.0 / fan_in ** 0.5                  # torch.nn.Linear's default init range
    gen = torch.Generator().manual_seed(seed)
    new_rows = (torch.rand([hidden - old, fan_in], generator=gen) * 2 - 1) * bound
    return {**state, "hidden.weight": torch.cat([weight, new_rows.to(weight)]),
            "hidden.bias": torch.cat([bias, torch.zeros([hidden - old]).to(bias)]),
            "head.weight": torch.cat([out, torch.zeros([out.shape[0], hidden - old]).to(out)], dim=1)}


def encoder_codes(E: Encoder, G, images: torch.Tensor, space: str, iterations: int | None = None) -> torch.Tensor:
    """The encoder's codes for ``images`` in the inversion ``space`` (w -> w+/s and w+ -> s are exact):
    its first codes, then ``iterations`` (default: the encoder's ``refine_iterations``) feedback corrections,
    each from the generator's render of the codes so far (constant noise, clamped to [-1, 1])."""
    from .spaces import synthesize_codes
    codes = E(images)
    for _ in range(E.refine_iterations if iterations is None else iterations):
        codes = E.refine(images, synthesize_codes(G, codes, E.space).clamp(-1, 1), codes)
    if space == E.space:
        return codes
    if E.space == "w" and space == "w+":
        return G.w_to_wplus(codes)
    if space == "s":
        return G.wplus_to_s(codes if E.space == "w+" else G.w_to_wplus(codes))
    raise InversionError(f"an encoder trained for space {E.space!r} cannot give {space!r} codes",
                         "invert with --space w+ or s (or w with an encoder trained with --space w)")


def check_encoder(E: Encoder, G, generator_sha256: str, encoder_uri: str = "encoder",
                  generator_uri: str = "the generator") -> None:
    """Refuse an encoder trained for another generator (sha256 or shapes), naming both and the fix."""
    trained_for = E.generator_sha256
    fix = (f"pass the generator it was trained for, or train one for this generator: stylealign encoder train "
           f"--network {generator_uri} --data DIR --out ENC")
    if trained_for != generator_sha256:
        raise InversionError(f"encoder {encoder_uri} was trained for generator sha256 {trained_for or '(none)'}, "
                             f"but {generator_uri} has sha256 {generator_sha256}", fix)
    shapes = {"img_resolution": G.img_resolution, "img_channels": G.img_channels, "w_dim": G.w_dim,
              "num_ws": G.num_ws}
    for key, value in shapes.items():
        if getattr(E, key) != value:
            raise InversionError(f"encoder {encoder_uri} has {key} {getattr(E, key)}, {generator_uri} has {value}",
                                 fix)


def encoder_options(path: str | os.PathLike, G, generator_sha256: str, refine: int = 0,
                    generator_uri: str = "the generator", device="cpu") -> dict:
    """The :class:`~.run.InvertOptions` fields of an encoder run: the encoder at ``path`` loaded onto ``device``
    and checked against ``G`` (refused when trained for another generator), ``refine`` projector steps."""
    if refine < 0:
        raise InversionError(f"refine steps must be >= 0, got {refine}", "pass a number of projector steps")
    E, ckpt = load_encoder(path)
    check_encoder(E, G, generator_sha256, str(path), generator_uri)
    return {"encoder": E.to(device), "encoder_sha256": ckpt.sha256, "encoder_uri": str(path), "refine": refine}


def save_encoder(path: str | os.PathLike, E: Encoder, metadata: dict | None = None):
    """Write the encoder as a stylealign checkpoint (``NAME.json`` + ``NAME.safetensors``, atomic)."""
    from ..checkpoints import save_checkpoint
    meta = {"kind": "encoder", "generator_sha256": E.generator_sha256, "space": E.space, **(metadata or {})}
    return save_checkpoint(path, {ENCODER_NETWORK: E}, metadata=meta)


def load_encoder(path: str | os.PathLike, device="cpu"):
    """``(encoder, checkpoint)`` of an encoder checkpoint; the checkpoint's sha256 keys the latents cache."""
    from ..checkpoints import load_checkpoint
    ckpt = load_checkpoint(path, device=device)
    E = ckpt.networks.get(ENCODER_NETWORK)
    if not isinstance(E, Encoder):
        raise InversionError(f"{path} holds no encoder (networks: {', '.join(sorted(ckpt.networks))})",
                             "pass a checkpoint written by `stylealign encoder train`")
    return E.eval(), ckpt
