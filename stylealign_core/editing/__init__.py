"""Editing with aligned generators: translation parent -> child (and back), layer swapping, morphing, and
scoring translations against paired ground truth.

    from stylealign_core.editing import AlignedPair, translate, layer_swap, morph_frames
    pair = AlignedPair(parent, child)                        # refuses an unaligned pair, naming the mismatch
    images = translate(pair, z, space="z", truncation_psi=0.5)              # the paper's recipe
    hybrid = layer_swap(parent, child, swap_res=16).generator              # Toonify-style
    frames = morph_frames(parent, child, w_a, w_b, "w", frames=32)         # latent + weights

No module here changes a model it is given: hybrids and morphs work on one interpolated copy.
"""
from .aligned import AlignedPair, architecture_mismatch, check_aligned, load_aligned_pair
from .errors import EditError, UnalignedPair
from .evaluate import PairedTruth, images_by_id, load_paired_truth, score_translation
from .frames import save_gif, save_mp4, save_strip
from .inputs import Codes, codes_from_seeds, codes_from_table
from .layerswap import WeightMix, layer_swap, swap_weights
from .morph import SCHEDULES, morph_frames, parse_windows, resolution_windows
from .scoring import bootstrap_interval, bootstrap_replicates, foreground_masks, mask_iou, pixel_errors, summarize
from .translate import render, source_images, translate

__all__ = ["AlignedPair", "Codes", "EditError", "PairedTruth", "SCHEDULES", "UnalignedPair", "WeightMix",
           "architecture_mismatch", "bootstrap_interval", "bootstrap_replicates", "check_aligned",
           "codes_from_seeds", "codes_from_table", "foreground_masks", "images_by_id", "layer_swap",
           "load_aligned_pair", "load_paired_truth", "mask_iou", "morph_frames", "parse_windows",
           "pixel_errors", "render", "resolution_windows", "save_gif", "save_mp4", "save_strip",
           "score_translation", "source_images", "summarize", "swap_weights", "translate"]
