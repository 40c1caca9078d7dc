"""Data sets: emoji styles fetched from npm, users' own image folders, stylegan2-ada zips.

One on-disk format (see :mod:`stylealign_core.data.format`) is written by the builders and read by
:class:`ImageDataset`. Pure Python/NumPy/PyTorch/Pillow/pyarrow; no Prefect or DVC imports.
"""
from .dataset import ImageDataset, make_loader, open_dataset
from .emoji import build_emoji_dataset
from .errors import DataError
from .folder import build_folder_dataset
from .format import (FORMAT_NAME, FORMAT_VERSION, DatasetWriter, hash_split, read_manifest,
                     read_metadata, verify_dataset)
from .npm_fetch import cache_root, fetch_npm_tarball
from .styles import STYLES, EmojiStyle, get_style, register_style

__all__ = [
    "ImageDataset", "open_dataset", "make_loader", "build_emoji_dataset", "build_folder_dataset",
    "DataError", "FORMAT_NAME", "FORMAT_VERSION", "DatasetWriter", "hash_split", "read_manifest",
    "read_metadata", "verify_dataset", "cache_root", "fetch_npm_tarball", "STYLES", "EmojiStyle",
    "get_style", "register_style",
]
