"""Frames -> an animated GIF (Pillow), an MP4 (where an ffmpeg is installed) and a strip PNG.

Frames are ``[F, C, R, R]`` tensors in [-1, 1] (what the generators return). Every file is written
atomically (a temporary file beside the target, then renamed). ``scale`` enlarges each frame by an
integer factor (nearest neighbour) so a 64 px morph is visible on screen.

MP4 needs an ffmpeg executable: the one bundled with the ``imageio-ffmpeg`` package when it is
installed, else ``ffmpeg`` on the PATH. Without either :func:`save_mp4` returns None and
:func:`mp4_unavailable_reason` says what to install; nothing else depends on it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..atomic import write_atomic
from ..grid import images_to_uint8, make_grid
from .errors import EditError


def frames_to_uint8(frames: torch.Tensor, scale: int = 1) -> np.ndarray:
    """[F, C, R, R] in [-1, 1] -> uint8 [F, R*scale, R*scale, 3] (grey frames repeated to RGB)."""
    if frames.ndim != 4 or len(frames) == 0:
        raise EditError(f"frames must be a non-empty [F, C, H, W] batch, got shape {list(frames.shape)}")
    if scale < 1:
        raise EditError(f"frame scale must be an integer >= 1, got {scale}")
    arr = images_to_uint8(frames)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if scale > 1:
        arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def save_gif(frames: torch.Tensor, path: str | os.PathLike, fps: float = 12.0, scale: int = 1,
             loop: bool = True) -> Path:
    """An animated GIF, one image per frame, ``fps`` frames per second (Pillow stores identical consecutive
    frames once, with their durations summed: the timing is kept, the frame count can drop)."""
    if fps <= 0:
        raise EditError(f"fps must be > 0, got {fps}")
    images = [Image.fromarray(f) for f in frames_to_uint8(frames, scale)]
    duration = max(int(round(1000.0 / fps)), 20)  # GIF timing is in 10 ms steps; browsers clamp < 20 ms

    def write(tmp: Path) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration,
                       loop=0 if loop else None, optimize=False, disposal=1)
    return write_atomic(path, write)


def save_strip(frames: torch.Tensor, path: str | os.PathLike, count: int | None = None, scale: int = 1,
               pad: int = 2) -> Path:
    """A PNG row of ``count`` evenly spaced frames (first and last included; default: every frame)."""
    picks = strip_indices(len(frames), count)
    grid = make_grid(frames[picks], ncols=len(picks), pad=pad)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    return write_atomic(path, lambda tmp: img.save(tmp, format="PNG"))


def strip_indices(total: int, count: int | None) -> list[int]:
    """``count`` frame indices spread evenly over ``total`` frames, first and last included."""
    if count is None or count >= total:
        return list(range(total))
    if count < 2:
        raise EditError(f"a strip shows at least 2 frames, got {count}")
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


def find_ffmpeg() -> str | None:
    """Path of an ffmpeg executable (imageio-ffmpeg's bundled one, else the PATH's), or None."""
    try:
        import imageio_ffmpeg
        exe = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and Path(exe).exists():
            return exe
    except (ImportError, RuntimeError):
        pass
    return shutil.which("ffmpeg")


def mp4_unavailable_reason() -> str | None:
    """None when MP4 can be written, else a sentence saying how to enable it."""
    if find_ffmpeg():
        return None
    return "no MP4 written: no ffmpeg found (pip install imageio-ffmpeg, or install an ffmpeg binary)"


def save_mp4(frames: torch.Tensor, path: str | os.PathLike, fps: float = 12.0, scale: int = 1) -> Path | None:
    """An H.264 MP4 through ffmpeg (frame size rounded up to even numbers); None when no ffmpeg is found."""
    exe = find_ffmpeg()
    if exe is None:
        return None
    arr = frames_to_uint8(frames, scale)
    _, h, w, _ = arr.shape
    if h % 2 or w % 2:  # yuv420p needs even sizes
        arr = np.pad(arr, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        h, w = h + h % 2, w + w % 2

    def write(tmp: Path) -> None:
        cmd = [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
               "-r", f"{fps}", "-i", "-", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4", str(tmp)]
        proc = subprocess.run(cmd, input=arr.tobytes(), capture_output=True)
        if proc.returncode != 0:
            raise EditError(f"ffmpeg ({exe}) failed writing {path}: "
                            f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
    return write_atomic(path, write)
