"""Route a of the zero-shot protocol: child-domain images -> the aligned parent-domain images.

    to_parent = route_a(parent, child, child_sha256, invert=InvertParams(steps=100, metric="stlpips-alex"))
    out = to_parent(child_images)        # uint8 [B, 3, R, R] -> floats in [-1, 1], [B, 3, R, R]
    to_parent.info()                     # projector settings, metric, images inverted, optimised, from cache

Each image is inverted INTO THE CHILD with the batched projector (:func:`...inversion.invert_images`, the
latents cache included), then the same code is rendered by the PARENT (:func:`...editing.translate.render`,
truncation 1, the generator's constant noise). An image's cache key is the sha256 of its PNG bytes as the
data set writer encodes them (:func:`...data.images.encode_png`), i.e. the sha256 of the data set's own file,
and the projector settings, metric and seed come from the ``invert`` section of params.yaml
(:meth:`~stylealign_core.params_edit.InvertParams.projector_settings`) as they do for the invert stage: the
child test images that stage inverted are not optimised again, and a rerun optimises nothing.
"""
from __future__ import annotations

import time

import torch

from ...aligned import check_aligned
from ...data.images import encode_png
from ...editing.translate import render
from ...inversion import InvertOptions, LatentsCache, ProjectorSettings, invert_images, load_metric
from ...inversion.images import InputEntry, input_image
from ...params_edit import InvertParams
from .errors import ZeroShotError
from .models import prepare_images

TRUNCATION_PSI = 1.0
NOISE_MODE = "const"


class ToParent:
    """The ``to_parent`` callable of :func:`.protocol.evaluate_task` for a (parent, child) pair.

    ``child_sha256``: of the child checkpoint's weights (the cache key's generator). Codes are kept in memory
    by image sha256, so an image scored by several tasks is inverted once."""

    def __init__(self, parent, child, child_sha256: str, metric, options: InvertOptions):
        check_aligned(parent, child)
        if child.img_channels != 3:
            raise ZeroShotError(f"route a needs an RGB generator pair, this one has {child.img_channels} "
                                "channel(s); the zero-shot tasks read RGB emoji")
        self.parent, self.child, self.child_sha256 = parent, child, child_sha256
        self.metric, self.options = metric, options
        self.codes: dict[str, torch.Tensor] = {}
        self.optimised = self.from_cache = 0
        self.seconds = 0.0

    def _inputs(self, images: torch.Tensor) -> list:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ZeroShotError(f"to_parent takes uint8 RGB images [B, 3, R, R], got {images.dtype} of shape "
                                f"{list(images.shape)}; pass the data set's images as they are stored")
        res = self.child.img_resolution
        return [input_image(InputEntry(k, f"image-{k}", f"image-{k}.png"), encode_png(im.permute(1, 2, 0).numpy()),
                            res, self.child.img_channels) for k, im in enumerate(images)]

    def __call__(self, images) -> torch.Tensor:
        started = time.perf_counter()
        images = torch.as_tensor(images)
        inputs = self._inputs(images)
        new = list({im.sha256: im for im in inputs if im.sha256 not in self.codes}.values())
        if new:
            table, computed = invert_images(self.child, self.child_sha256, new, self.metric, self.options)
            self.optimised += computed
            self.from_cache += len(new) - computed
            self.codes.update({im.sha256: code for im, code in zip(new, table.latents)})
        codes = torch.stack([self.codes[im.sha256] for im in inputs])
        out = render(self.parent, codes, self.options.settings.space, TRUNCATION_PSI, batch=self.options.batch,
                     noise_mode=NOISE_MODE).clamp(-1, 1)  # an image's range (a code may render beyond it)
        self.seconds += time.perf_counter() - started
        return prepare_images(out, images.shape[-1]) if out.shape[-1] != images.shape[-1] else out

    def info(self) -> dict:
        """What route a ran: projector settings, metric, seed, and how many distinct images it inverted."""
        return {"settings": self.options.settings.as_dict(), "metric": self.metric.name, "seed": self.options.seed,
                "batch": self.options.batch, "render": {"truncation_psi": TRUNCATION_PSI, "noise_mode": NOISE_MODE},
                "generator_sha256": self.child_sha256, "images": len(self.codes), "optimised": self.optimised,
                "from_cache": self.from_cache, "seconds": round(self.seconds, 1)}


def route_a(parent, child, child_sha256: str, invert: InvertParams = InvertParams(),
            cache: LatentsCache | None = None, progress: bool = False) -> ToParent:
    """:class:`ToParent` with the projector, metric, seed and batch of an ``invert`` section (the invert
    stage's, see the module doc); ``cache``: default ``$STYLEALIGN_CACHE/inversion``, the invert stage's."""
    options = InvertOptions(settings=ProjectorSettings(**invert.projector_settings()), batch=invert.batch,
                            seed=invert.seed, cache=cache or LatentsCache(), progress=bool(progress))
    return ToParent(parent, child, child_sha256, load_metric(invert.metric), options)
