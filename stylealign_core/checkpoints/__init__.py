"""Checkpoints: our safetensors+JSON format, safe importers for official and rosinality files.

    from stylealign_core.checkpoints import save_checkpoint, load_checkpoint, load_generator
    save_checkpoint("runs/parent", {"G": G, "D": D, "G_ema": G_ema}, metadata={"kimg": 200})
    G = load_generator("runs/parent.json")                      # G_ema preferred, else G
    ckpt = load_checkpoint("network-snapshot-000200.pkl")       # official pickle, never executed
    ckpt = load_checkpoint("https://host/550000.pt", sha256="...")  # rosinality, cached download

See ``native`` for the on-disk format, ``unpickler``/``official`` and ``rosinality`` for importers.
"""
from .errors import CheckpointError
from .loader import (FORMATS, Checkpoint, build_checkpoint, convert_checkpoint, detect_format, load_checkpoint,
                     load_generator, load_generator_and_sha, read_checkpoint)
from .native import (DIR_CHECKPOINT_NAME, FORMAT_NAME, FORMAT_VERSION, checkpoint_paths, save_checkpoint,
                     sha256_file)
from .networks import NetworkSpec, RawCheckpoint, build_network
from .remote import cache_dir, fetch

__all__ = ["CheckpointError", "Checkpoint", "DIR_CHECKPOINT_NAME", "FORMATS", "FORMAT_NAME", "FORMAT_VERSION",
           "NetworkSpec", "RawCheckpoint",
           "build_checkpoint", "build_network", "cache_dir", "checkpoint_paths", "convert_checkpoint", "detect_format",
           "fetch", "load_checkpoint", "load_generator", "load_generator_and_sha", "read_checkpoint",
           "save_checkpoint", "sha256_file"]
