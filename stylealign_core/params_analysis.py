"""The ``analyze`` and ``report`` sections of params.yaml (registered in :mod:`stylealign_core.params`).

Every sample count is a parameter and is written next to the figure it produced. The defaults keep the
default ``dvc repro`` within its 30-minute budget on 2 CPU cores (the 2015 Inception runs at ~5-8 images/s
there): FID/KID on a few hundred images per model. ``analyze.full: true`` is the opt-in full-size run: the
counts of ``analyze.full_size`` replace the defaults (over an hour on 2 CPU cores). The zero-shot
transfer and the semantic-control transfer score train small models and are opt-in as well
(``analyze.zeroshot.enabled``, ``analyze.controls.enabled``). The zero-shot route a inverts with the ``invert``
section's projector (:meth:`ZeroshotParams.route_a_invert`), so the analyze stage also reads that section.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from .params_edit import InvertParams, Space
from .schema import Schema

RESET_CHOICES = Literal["mapping", "affine", "synthesis", "torgb", "noise"]


def _non_empty_path(v: str) -> str:
    if not v.strip():
        raise ValueError("must be a non-empty path")
    return v


PathStr = Annotated[str, AfterValidator(_non_empty_path)]


class _Section(Schema):
    model_config = ConfigDict(frozen=True)


class FidKidParams(_Section):
    """FID and KID of the parent and the child against both domains (one set of generated features per
    model, one set of real features per domain, cached by data set sha256)."""
    num_gen: int = Field(250, ge=2)                      # generated images per model (seeds 0..num_gen-1)
    # FID needs a 2048x2048 sqrtm per figure (tens of seconds to minutes on 2 CPU cores, whatever the counts):
    # own = each model against its own domain (metrics.json fid.parent/fid.child), both = also the other
    # domain, none = KID only (fid.* null with the reason). KID is always computed for every pair.
    fid: Literal["own", "both", "none"] = "own"
    num_real: int | None = Field(250, ge=2)              # first N real images of the split; null: all of it
    split: Literal["train", "test", "all"] = "train"
    kid_subsets: int = Field(100, gt=0)
    kid_subset_size: int = Field(1000, ge=2)
    kid_seed: int = 0
    batch: int = Field(32, gt=0)                         # detector batch
    truncation_psi: float = 1.0


class ResetParams(_Section):
    """Component reset: the child with one component put back to the parent's, KID to the child domain (and
    translation quality when the invert stage's parent table exists: :mod:`..analysis.reset_translation`)."""
    enabled: bool = True
    components: list[RESET_CHOICES] = Field(default_factory=lambda: ["mapping", "affine", "synthesis", "torgb"])
    num_gen: int = Field(200, ge=2)                      # generated images per reset model


class AlignmentParams(_Section):
    """StyleSpace channel and W-direction alignment (effect-map correlation vs mismatched pairs)."""
    latents: int = Field(16, ge=2)                       # latents the effect maps are computed over
    channels: int = Field(8, ge=0)                       # channels per style layer / random W directions (0: all)
    step_std: float = Field(3.0, gt=0)                   # the edit: +k std of the coordinate
    std_samples: int = Field(1000, ge=2)                 # latents the std is measured over
    seed_start: int = 0
    channel_seed: int = 0
    pool: int = Field(0, ge=0)                           # correlate maps averaged to pool x pool px (0: full)
    batch: int = Field(16, gt=0)
    truncation_psi: float = 1.0


class ControlsParams(_Section):
    """The parent's top W directions (PCA) in the child: strips and GIFs always; the transfer score
    (Spearman of step vs a child-domain skin-tone model, against random directions) only when enabled."""
    enabled: bool = False                                # opt-in: trains a child-domain skin-tone model
    count: int = Field(3, gt=0)                          # principal directions drawn
    pca_samples: int = Field(2000, ge=2)                 # W samples of the PCA
    strip_seeds: int = Field(4, gt=0)                    # seeds shown in each strip / GIF
    steps: list[float] = Field(default_factory=lambda: [-3.0, -1.5, 0.0, 1.5, 3.0])  # in the direction's std
    num_latents: int = Field(64, ge=2)                   # latents of the transfer score
    num_random: int = Field(20, gt=0)                    # random directions of the baseline
    train_epochs: int = Field(6, gt=0)                   # epochs of the skin-tone attribute model


class RouteAInvertParams(_Section):
    """Route a's projector (each child test image inverted into the child). The projector settings, metric and
    seed are the ``invert`` section's; a value here (null: the invert section's) replaces its namesake. With
    space and steps left null, the images the invert stage inverted come from the latents cache."""
    space: Space | None = None
    steps: int | None = Field(None, gt=0)                # optimisation steps per image
    batch: int | None = Field(None, gt=0)                # images optimised together (does not change a code)


class ZeroshotParams(_Section):
    """Zero-shot label transfer (parent-trained models on child test images; translated (route a), direct,
    supervised, chance)."""
    enabled: bool = False                                # opt-in: trains 6 small models (~1-2 min each)
    epochs: int = Field(6, gt=0)
    resamples: int = Field(1000, gt=0)                   # bootstrap resamples over base emoji
    seed: int = 0
    translated: bool = True                              # route a (when enabled): invert into the child, render
                                                         # with the parent; false: its keys stay null
    invert: RouteAInvertParams = Field(default_factory=RouteAInvertParams)

    def route_a_invert(self, invert: InvertParams) -> InvertParams:
        """The ``invert`` section with this section's overrides (``invert.*`` keys that are not null)."""
        return invert.model_copy(update={k: v for k, v in self.invert.model_dump().items() if v is not None})


class FullSizeParams(_Section):
    """The counts used instead when ``analyze.full`` is true (the opt-in full-size analysis)."""
    num_gen: int = Field(2000, ge=2)
    num_real: int | None = Field(None, ge=2)
    reset_num_gen: int = Field(1000, ge=2)
    latents: int = Field(64, ge=2)
    channels: int = Field(0, ge=0)


class AnalyzeParams(_Section):
    out: PathStr = "runs/analyze"                            # JSON tables, PNG plots, summary.json
    threads: int | None = Field(None, gt=0)              # torch CPU threads; null: torch's default
    full: bool = False                                   # opt-in: full_size counts replace the defaults
    fid_kid: FidKidParams = Field(default_factory=FidKidParams)
    reset: ResetParams = Field(default_factory=ResetParams)
    alignment: AlignmentParams = Field(default_factory=AlignmentParams)
    controls: ControlsParams = Field(default_factory=ControlsParams)
    zeroshot: ZeroshotParams = Field(default_factory=ZeroshotParams)
    full_size: FullSizeParams = Field(default_factory=FullSizeParams)

    def effective(self) -> "AnalyzeParams":
        """These settings with the ``full_size`` counts applied when ``full`` is true."""
        if not self.full:
            return self
        f = self.full_size
        return self.model_copy(update={
            "fid_kid": self.fid_kid.model_copy(update={"num_gen": f.num_gen, "num_real": f.num_real}),
            "reset": self.reset.model_copy(update={"num_gen": f.reset_num_gen}),
            "alignment": self.alignment.model_copy(update={"latents": f.latents, "channels": f.channels})})


class ReportParams(_Section):
    out: PathStr = "reports"                                 # index.html, metrics.json, plots/, assets/
    title: str = "stylealign: parent, child and their alignment"
