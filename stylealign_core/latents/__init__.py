"""Latent codes: seed -> z (the official convention), batched codes and images from seeds, StyleSpace layout.

One module owns how a seed becomes z, so the same seed means the same z in the API, ``stylealign
generate``, exported samples and the parent-vs-child comparison (training grids: ``grid_seeds``).
"""
from .layout import SPACES, StyleLayer, StyleLayout
from .sampling import class_labels, latents_from_seeds, synthesize_seeds
from .seeds import SEED_LIMIT, check_seed, grid_seeds, parse_seeds, z_from_seed, z_from_seeds

__all__ = ["SPACES", "SEED_LIMIT", "StyleLayer", "StyleLayout", "check_seed", "class_labels", "grid_seeds",
           "latents_from_seeds", "parse_seeds", "synthesize_seeds", "z_from_seed", "z_from_seeds"]
