"""Training an :class:`~.encoder.Encoder` for one frozen generator, on its own samples and on real images.

    settings = EncoderTrainSettings(space="w+", kimg=20, batch=16)
    reals = load_reals("data/emoji-google-64", G, split="train")          # or None: samples only
    summary = train_encoder(G, sha256, metric, settings, reals, "runs/enc")  # writes runs/enc.json+.safetensors

Every step draws ``batch`` images: ``batch - round(batch * real_fraction)`` generator samples
(G's render with its constant noise of a code that is then known) and the rest real images, each mirrored
with probability 1/2 when ``xflip`` (stylegan2-ada-pytorch's ``--mirror``: twice the real images). The
samples' codes come from G's prior (``sample_source="prior"``: z -> w -> W+) or from the real images
(``"reals"``: the encoder's own current codes of two drawn real images, style-mixed at a random layer; more
training images near the real ones, each with a code that renders it exactly). Losses:

* samples: ``latent_weight`` * mean squared code error / the per-coordinate variance of w (1.0 for an
  encoder that returns w_avg on average);
* all images (image reconstruction through the frozen G): ``perceptual_weight`` * the perceptual
  distance + ``pixel_weight`` * mean squared pixel error in [-1, 1].

With ``refine_iterations`` K > 0 (a ReStyle-like feedback refiner, see :mod:`.encoder`; needs ``init``, the
encoder trained before) only the refiner learns: step k scores its iteration ``k % K + 1``, starting from the
codes of the iterations before it (no gradient through them), with the same losses. A new refiner starts as a
copy of the encoder's trunk with zero weights on the render's channels and a zero head
(:func:`refiner_from_encoder`).

Adam (betas 0.9/0.999) at ``lr``. The z and image draws of step k come from a generator seeded by
(seed, k), so a resumed run draws what the uninterrupted one would have (the optimiser's moments restart).
Every ``snapshot_kimg`` and at the end the encoder is saved through the checkpoint format (atomic: the
manifest is written last), its metadata holding the step, the settings and the last losses;
``resume=True`` continues from that file.

``init`` warm-starts a new encoder from one trained for an *aligned* generator (a child from the encoder of
its parent: same shapes, same architecture settings): its weights are copied, its ``w_avg`` and generator
sha256 become this generator's, and the metadata's ``init_from`` records the file, its sha256 and the
generator it was trained for. An ``init`` with fewer hidden units than ``settings.hidden`` is widened first
(:func:`~.encoder.widen_hidden`: same function, room to grow), so a trained encoder continues with a wider head.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..checkpoints.native import checkpoint_paths
from .encoder import ENCODER_SPACES, Encoder, encoder_codes, load_encoder, save_encoder, widen_hidden
from .errors import InversionError
from .spaces import space_stats, synthesize_codes

LOSSES = ("latent", "perceptual", "pixel", "total")
SAMPLE_SOURCES = ("prior", "reals")


@dataclass(frozen=True)
class EncoderTrainSettings:
    """The recipe (recorded in the encoder's metadata)."""
    space: str = "w+"
    kimg: float = 20.0               # thousands of images shown
    batch: int = 16
    lr: float = 1e-3
    real_fraction: float = 0.5       # share of each batch from the real images (0 when there are none)
    latent_weight: float = 1.0
    perceptual_weight: float = 1.0
    pixel_weight: float = 1.0
    truncation_psi: float = 1.0      # of the generator samples
    sample_source: str = "prior"     # the samples' codes: "prior" (z -> w) or "reals" (mixes of real images' codes)
    channels: int = 32
    channel_max: int = 128
    hidden: int = 256
    refine_iterations: int = 0       # > 0: train (only) a feedback refiner applied this many times
    xflip: bool = False              # mirror each drawn real image with probability 1/2
    seed: int = 0
    snapshot_kimg: float = 5.0
    stats_samples: int = 2000

    def __post_init__(self):
        if self.space not in ENCODER_SPACES:
            raise InversionError(f"encoder space must be one of {', '.join(ENCODER_SPACES)}, got {self.space!r}",
                                 "use --space w+ (or w)")
        if self.sample_source not in SAMPLE_SOURCES:
            raise InversionError(f"sample_source must be one of {', '.join(SAMPLE_SOURCES)}, got "
                                 f"{self.sample_source!r}", "use --sample-source prior (or reals)")
        if (self.kimg <= 0 or self.batch < 1 or self.lr <= 0 or not 0 <= self.real_fraction <= 1
                or self.refine_iterations < 0):
            raise InversionError(f"bad encoder training settings (kimg {self.kimg}, batch {self.batch}, lr "
                                 f"{self.lr}, real_fraction {self.real_fraction}, refine_iterations "
                                 f"{self.refine_iterations})",
                                 "kimg > 0, batch >= 1, lr > 0, 0 <= real fraction <= 1, refine iterations >= 0")

    def total_steps(self) -> int:
        return max(1, math.ceil(self.kimg * 1000 / self.batch))


ARCHITECTURE = ("space", "channels", "channel_max", "hidden", "refine_iterations")


def init_architecture(init: Encoder) -> dict:
    """The :data:`ARCHITECTURE` settings of an encoder (from its recorded constructor arguments)."""
    return {k: init.config[k] for k in ARCHITECTURE}


def warm_start_settings(init: Encoder, kimg: float, **overrides) -> EncoderTrainSettings:
    """How a child's encoder continues its parent's: the ``init`` encoder's architecture with the default
    recipe (lr, samples and real images, loss weights) for ``kimg``. Not the init's own learning rate and data
    mix, which may be a late fine-tuning step's (the shipped parent encoder's last step ran at lr 5e-5 on real
    images only)."""
    return EncoderTrainSettings(**{**init_architecture(init), "kimg": kimg, **overrides})


def load_init(path: str | os.PathLike):
    """``(encoder, checkpoint, init_from)``: an ``init`` encoder and the provenance record (its file, sha256 and
    generator) that a warm-started encoder keeps in its metadata as ``init_from``."""
    E, ckpt = load_encoder(path)
    return E, ckpt, {"uri": str(path), "sha256": ckpt.sha256, "generator_sha256": E.generator_sha256}


def load_reals(data: str | os.PathLike, G, split: str | None = "train", limit: int | None = None) -> torch.Tensor:
    """Real images ``[N, C, R, R]`` in [-1, 1] at G's resolution (the ``split`` of a data set, else a folder)."""
    from .images import list_inputs, load_inputs, to_tensor
    entries = list_inputs(data, split)[:limit]
    images, _ = load_inputs(data, entries, G.img_resolution, G.img_channels)
    if not images:
        raise InversionError(f"no readable image in {data}", "check the data set")
    return to_tensor(images)


def _draw(G, E: Encoder, reals, settings: EncoderTrainSettings, step: int, device):
    """(images, known codes of the first len(codes) rows) of one step, from the step's own random stream."""
    gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
    n_real = 0 if reals is None else round(settings.batch * settings.real_fraction)
    n_fake = settings.batch - n_real
    parts, codes = [], torch.zeros([0])
    with torch.no_grad():
        if n_fake:
            codes = (_codes_near_reals(G, E, reals, n_fake, gen, device) if settings.sample_source == "reals"
                     else _codes_from_prior(G, E, n_fake, settings.truncation_psi, gen, device))
            parts.append(synthesize_codes(G, codes, E.space))
        if n_real:
            index = torch.randint(len(reals), [n_real], generator=gen)
            picked = reals[index]
            if settings.xflip:
                mirror = torch.rand([n_real], generator=gen) < 0.5
                picked = torch.where(mirror[:, None, None, None], picked.flip(-1), picked)
            parts.append(picked.to(device))
    return torch.cat(parts), codes


def _codes_from_prior(G, E: Encoder, n: int, truncation_psi: float, gen, device) -> torch.Tensor:
    """``n`` codes of G's own distribution: z ~ N(0, I) -> w (truncated) -> W+ when the encoder predicts it."""
    z = torch.randn([n, G.z_dim], generator=gen).to(device)
    w = G.z_to_w(z, truncation_psi=truncation_psi)
    return G.w_to_wplus(w) if E.space == "w+" else w


def _codes_near_reals(G, E: Encoder, reals: torch.Tensor, n: int, gen, device) -> torch.Tensor:
    """``n`` codes near the real images: the encoder's current codes of two drawn real images, mixed. In W+
    a style mix (layers before a random crossover from the first image, the rest from the second: its shape,
    the other's colours and detail); in W a random point between the two."""
    pairs = reals[torch.randint(len(reals), [2 * n], generator=gen)].to(device)
    first, second = encoder_codes(E, G, pairs, E.space).split(n)
    if E.space == "w+":
        cut = torch.randint(1, first.shape[1] + 1, [n, 1, 1], generator=gen).to(device)
        return torch.where(torch.arange(first.shape[1], device=device)[None, :, None] < cut, first, second)
    return torch.lerp(first, second, torch.rand([n, 1], generator=gen).to(device))


def _predict(G, E: Encoder, images: torch.Tensor, step: int) -> torch.Tensor:
    """The codes whose render is scored at ``step``: the first codes, or (an encoder with a refiner) the
    refiner's iteration ``step % K + 1`` from the codes of the iterations before it (computed without grad)."""
    if not E.refine_iterations:
        return E(images)
    with torch.no_grad():
        codes = encoder_codes(E, G, images, E.space, iterations=step % E.refine_iterations)
        renders = synthesize_codes(G, codes, E.space).clamp(-1, 1)
    return E.refine(images, renders, codes)


def _losses(G, E, metric, images, codes, settings: EncoderTrainSettings, w_var: float, step: int) -> dict:
    pred = _predict(G, E, images, step)
    out = {"latent": torch.zeros([], device=images.device)}
    if len(codes):
        out["latent"] = (pred[:len(codes)] - codes).square().mean() / w_var
    recon = synthesize_codes(G, pred, E.space)
    out["pixel"] = (recon - images).square().mean()
    out["perceptual"] = (metric(recon, images).mean() if metric is not None and settings.perceptual_weight
                         else torch.zeros([], device=images.device))
    out["total"] = (settings.latent_weight * out["latent"] + settings.pixel_weight * out["pixel"]
                    + settings.perceptual_weight * out["perceptual"])
    return out


def _start(G, generator_sha256: str, settings: EncoderTrainSettings, out: Path, resume: bool, device,
           init: Encoder | None = None):
    """(encoder, first step): the one saved at ``out`` when resuming, else a copy of ``init`` made this
    generator's, else a fresh null encoder."""
    if resume and checkpoint_paths(out)[0].exists():
        E, ckpt = load_encoder(out)
        if (E.generator_sha256, E.space, E.refine_iterations) != (generator_sha256, settings.space,
                                                                   settings.refine_iterations):
            raise InversionError(f"cannot resume {out}: it was trained for generator {E.generator_sha256} in "
                                 f"{E.space} with {E.refine_iterations} refine iterations, not {generator_sha256} "
                                 f"in {settings.space} with {settings.refine_iterations}",
                                 "pass another --out, or the generator, space and --refine-iterations it was "
                                 "trained with")
        return E.to(device).train().requires_grad_(True), int(ckpt.metadata.get("step", 0))
    E = Encoder.for_generator(G, generator_sha256, settings.space, settings.channels, settings.channel_max,
                              settings.hidden, settings.refine_iterations)
    if settings.refine_iterations and init is None:
        raise InversionError("--refine-iterations trains the refiner of an encoder trained before; none given",
                             "train the encoder first, then pass it as --init ENC with --refine-iterations K")
    if init is not None:
        state = init.state_dict()
        if init.hidden.out_features < settings.hidden:
            state = widen_hidden(state, settings.hidden, settings.seed)
        _check_init(init.space, state, E)
        if E.refiner is not None and not any(key.startswith("refiner.") for key in state):
            state = {**state, **refiner_from_encoder(state, E.img_channels)}
        E.load_state_dict({**E.state_dict(), **state, "w_avg": E.w_avg})
    return E.to(device).train(), 0


def refiner_from_encoder(state: dict, img_channels: int) -> dict:
    """A new refiner's weights from its encoder's ``state``: the same trunk and hidden layer, the render's input
    channels at zero and the head at zero, so it starts from the encoder's features, changes no code, and
    learns to read the render."""
    refiner = {f"refiner.{key}": value.clone() for key, value in state.items()
               if key not in ("w_avg", "head.weight", "head.bias") and not key.startswith("refiner.")}
    rgb = state["from_rgb.weight"]
    refiner["refiner.from_rgb.weight"] = torch.cat([rgb, torch.zeros_like(rgb[:, :img_channels])], dim=1)
    refiner["refiner.head.weight"] = torch.zeros_like(state["head.weight"])
    refiner["refiner.head.bias"] = torch.zeros_like(state["head.bias"])
    return refiner


def _check_init(init_space: str, theirs: dict, fresh: Encoder) -> None:
    """Refuse an ``init`` encoder (its space and state dict) whose space or shapes differ from the encoder
    being trained, naming them."""
    if init_space != fresh.space:
        raise InversionError(f"the init encoder predicts {init_space!r}, this run trains {fresh.space!r}",
                             f"pass --space {init_space}, or an init encoder of space {fresh.space}")
    mine = fresh.state_dict()
    for key, value in theirs.items():
        if key not in mine or mine[key].shape != value.shape:
            got = list(mine[key].shape) if key in mine else "missing"
            raise InversionError(f"the init encoder's {key} has shape {list(value.shape)}, this run's {got} "
                                 f"(img_resolution/num_ws/w_dim of the generator, or --channels/--channel-max/"
                                 f"--hidden differ)",
                                 "pass the architecture settings it was trained with, for an aligned generator "
                                 "(a child of its generator)")


def train_encoder(G, generator_sha256: str, metric, settings: EncoderTrainSettings, reals: torch.Tensor | None,
                  out: str | os.PathLike, resume: bool = False, progress: bool = False,
                  metadata: dict | None = None, init: Encoder | None = None) -> dict:
    """Train (or continue) an encoder for the frozen ``G``; saves it to ``out`` (``NAME.json`` +
    ``NAME.safetensors``) every ``snapshot_kimg`` and at the end. ``init``: start from a copy of that encoder
    (see the module doc; the caller records where it came from in ``metadata["init_from"]``). Returns the
    summary written as metadata."""
    from tqdm.auto import tqdm
    manifest = checkpoint_paths(out)[0]
    out = manifest.with_name(manifest.name.removesuffix(".json"))
    device = next(G.parameters()).device
    if settings.perceptual_weight and metric is None:
        raise InversionError("perceptual_weight > 0 needs a perceptual metric", "pass one, or weight 0")
    if settings.sample_source == "reals" and reals is None and settings.real_fraction < 1:
        raise InversionError("sample_source 'reals' mixes the codes of real images; none given",
                             "pass --data DIR, or --sample-source prior")
    E, first = _start(G, generator_sha256, settings, out, resume, device, init)
    w_var = space_stats(G, "w", settings.stats_samples).std ** 2 / G.w_dim
    total = settings.total_steps()
    every = max(1, round(settings.snapshot_kimg * 1000 / settings.batch))
    if E.refine_iterations:       # the first codes stay as they are: only the refiner learns
        E.requires_grad_(False).refiner.requires_grad_(True)
    learning = [p for p in E.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(learning, lr=settings.lr, betas=(0.9, 0.999))
    trainable = [p for p in G.parameters() if p.requires_grad]
    G.requires_grad_(False)
    meta = {**(metadata or {}), "recipe": asdict(settings), "real_images": 0 if reals is None else len(reals),
            "metric": getattr(metric, "name", None)}
    running, t0 = {}, time.perf_counter()
    bar = tqdm(total=total, initial=first, desc="encoder", unit="step", disable=not progress)
    try:
        for step in range(first, total):
            images, codes = _draw(G, E, reals, settings, step, device)
            losses = _losses(G, E, metric, images, codes, settings, w_var, step)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
            running = {k: float(v.detach()) if not running else 0.9 * running[k] + 0.1 * float(v.detach())
                       for k, v in losses.items()}
            bar.update(1)
            bar.set_postfix(loss=f"{running['total']:.4f}", refresh=False)
            if (step + 1) % every == 0 or step + 1 == total:
                summary = {**meta, "step": step + 1, "kimg": (step + 1) * settings.batch / 1000,
                           "losses": running, "seconds": time.perf_counter() - t0}
                save_encoder(out, E, summary)
    finally:
        bar.close()
        for p in trainable:
            p.requires_grad_(True)
    if first >= total:
        summary = {**meta, "step": first, "kimg": first * settings.batch / 1000, "losses": {}, "seconds": 0.0}
    return {**summary, "path": str(manifest)}
