"""Fixture builders shared by the tests/test_data_*.py files (no tests in here).

Everything is made on the fly: PNGs in many modes, corrupt files, fake emoji-datasource packages
(directory + .tgz), a fake `npm` executable, stylegan2-ada-pytorch style zips.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def png_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def rgba_disc(size: int = 64, color=(220, 40, 30), radius_frac: float = 0.35) -> Image.Image:
    """An opaque disc of ``color`` on fully transparent BLACK (so fringes would show)."""
    yy, xx = np.mgrid[:size, :size]
    inside = (xx - size / 2 + 0.5) ** 2 + (yy - size / 2 + 0.5) ** 2 <= (radius_frac * size) ** 2
    a = np.zeros((size, size, 4), np.uint8)
    a[inside] = (*color, 255)
    return Image.fromarray(a, "RGBA")


def gradient_rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    noise = rng.integers(0, 30, (h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def corrupt_png(size: int = 16) -> bytes:
    """A PNG whose image data chunk has a flipped byte (CRC mismatch)."""
    data = bytearray(png_bytes(gradient_rgb(size, size)))
    i = data.index(b"IDAT") + 8
    data[i] ^= 0xFF
    return bytes(data)


def write_mixed_folder(root: Path) -> dict[str, str]:
    """A folder with good images in many modes and bad files; returns {relpath: expected}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cats").mkdir()
    (root / "dogs" / "deep").mkdir(parents=True)
    files = {
        "cats/rgba.png": png_bytes(rgba_disc(40)),
        "cats/wide.jpg": png_bytes(gradient_rgb(48, 24), "JPEG"),
        "cats/gray.png": png_bytes(Image.fromarray(np.full((20, 20), 100, np.uint8), "L")),
        "dogs/palette.png": png_bytes(gradient_rgb(16, 16).convert("P")),
        "dogs/cmyk.tif": png_bytes(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), "TIFF"),
        "dogs/deep/i16.png": png_bytes(Image.fromarray(np.full((16, 16), 65535, np.uint16))),
        "top.bmp": png_bytes(gradient_rgb(10, 30), "BMP"),
        "bad/zero.png": b"",
        "bad/notes.txt": b"just some text, not an image\n",
        "bad/truncated.png": png_bytes(gradient_rgb(32, 32))[:200],
        "bad/crc.png": corrupt_png(),
        ".hidden.png": png_bytes(gradient_rgb(8, 8)),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


# --------------------------------------------------------------------------- fake emoji packages
FAKE_EMOJI_JSON = [
    {"name": "GRINNING FACE", "unified": "1F600", "non_qualified": None, "image": "1f600.png",
     "short_name": "grinning", "category": "Smileys & Emotion", "subcategory": "face-smiling",
     "sort_order": 1, "added_in": "1.0", "has_img_fake": True},
    {"name": "WAVING HAND SIGN", "unified": "1F44B", "non_qualified": None, "image": "1f44b.png",
     "short_name": "wave", "category": "People & Body", "subcategory": "hand-fingers-open",
     "sort_order": 2, "added_in": "0.6", "has_img_fake": True,
     "skin_variations": {t: {"unified": f"1F44B-{t}", "non_qualified": None,
                             "image": f"1f44b-{t.lower()}.png", "added_in": "1.0",
                             "has_img_fake": True}
                         for t in ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")}},
    {"name": "HANDSHAKE", "unified": "1F91D", "non_qualified": None, "image": "1f91d.png",
     "short_name": "handshake", "category": "People & Body", "subcategory": "hands",
     "sort_order": 3, "added_in": "3.0", "has_img_fake": True,
     "skin_variations": {"1F3FB-1F3FF": {"unified": "1FAF1-1F3FB-200D-1FAF2-1F3FF",
                                         "non_qualified": None,
                                         "image": "1faf1-1f3fb-200d-1faf2-1f3ff.png",
                                         "added_in": "14.0", "has_img_fake": True}}},
    {"name": "DOG FACE", "unified": "1F436", "non_qualified": None, "image": "1f436.png",
     "short_name": "dog", "category": "Animals & Nature", "subcategory": "animal-mammal",
     "sort_order": 4, "added_in": "0.6", "has_img_fake": True},
    {"name": "NOT IN THIS STYLE", "unified": "1F9FF", "non_qualified": None, "image": "1f9ff.png",
     "short_name": "nazar", "category": "Activities", "subcategory": "game", "sort_order": 5,
     "added_in": "11.0", "has_img_fake": False},
    {"name": "KEYCAP NUMBER SIGN", "unified": "0023-FE0F-20E3", "non_qualified": "0023-20E3",
     "image": "0023-fe0f-20e3.png", "short_name": "hash", "category": "Symbols",
     "subcategory": "keycap", "sort_order": 6, "added_in": "0.6", "has_img_fake": True},
]
GOOD_IDS = ["1F600", "1F44B", "1F44B-1F3FB", "1F44B-1F3FC", "1F44B-1F3FD", "1F44B-1F3FE",
            "1F44B-1F3FF", "1F91D", "1FAF1-1F3FB-200D-1FAF2-1F3FF", "1F436"]


def make_fake_package(root: Path, vendor: str = "fake", broken: str = "corrupt") -> Path:
    """Write an emoji-datasource-like package dir ``root/package`` and return ``root``.

    The keycap image is ``broken``: "corrupt" (bad bytes) or "missing". Images are RGBA discs in a
    colour that depends on the emoji (so the styles differ) on transparent black.
    """
    pkg = root / "package"
    img_dir = pkg / "img" / vendor / "64"
    img_dir.mkdir(parents=True)
    entries = json.loads(json.dumps(FAKE_EMOJI_JSON).replace("has_img_fake",
                                                             f"has_img_{vendor}"))
    (pkg / "emoji.json").write_text(json.dumps(entries))
    (pkg / "LICENSE").write_text("The MIT License (MIT)\n\nCopyright (c) test\n")
    for k, e in enumerate(entries):
        recs = [e] + list((e.get("skin_variations") or {}).values())
        for j, r in enumerate(recs):
            if r["unified"] == "1F9FF":
                continue
            if r["unified"].startswith("0023"):
                if broken == "corrupt":
                    (img_dir / r["image"]).write_bytes(b"\x89PNG\r\n\x1a\nbroken")
                continue
            color = (40 * k % 256, 200 - 30 * j, (sum(map(ord, vendor)) % 200) + 20)
            (img_dir / r["image"]).write_bytes(png_bytes(rgba_disc(64, color)))
    return root


def make_tgz(src_root: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as t:
        t.add(src_root / "package", arcname="package")
    return dest


def sri(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def make_fake_npm(bin_dir: Path, tarballs: dict[str, Path], mode: str = "ok") -> Path:
    """An executable `npm` that answers `npm pack SPEC --json --pack-destination D` from
    ``tarballs`` ({"name@version": path}). ``mode``: ok, fail (exit 1), badhash (lies about the
    integrity). It appends each call to ``bin_dir/calls.log``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    table = {spec: str(p) for spec, p in tarballs.items()}
    script = f'''#!{sys.executable}
import base64, hashlib, json, shutil, sys, os
args = sys.argv[1:]
open({str(bin_dir / "calls.log")!r}, "a").write(" ".join(args) + "\\n")
table = {table!r}
if {mode!r} == "fail" or args[0] != "pack" or args[1] not in table:
    sys.stderr.write("npm error 404 Not Found - GET https://registry.example/" + args[1] + "\\n")
    sys.exit(1)
src = table[args[1]]
dest = args[args.index("--pack-destination") + 1]
name = os.path.basename(src)
shutil.copy(src, os.path.join(dest, name))
digest = hashlib.sha512(open(src, "rb").read()).digest()
if {mode!r} == "badhash":
    digest = hashlib.sha512(b"something else").digest()
print(json.dumps([{{"id": args[1], "filename": name,
                   "integrity": "sha512-" + base64.b64encode(digest).decode()}}]))
'''
    npm = bin_dir / "npm"
    npm.write_text(script)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return npm


def make_stylegan_zip(path: Path, n: int = 6, res: int = 8, labels="int",
                      mode: str = "RGB") -> Path:
    """A zip like stylegan2-ada-pytorch's dataset_tool.py writes (labels: int, float, None, or
    "absent" for no dataset.json)."""
    rng = np.random.default_rng(0)
    names, lab = [], []
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            name = f"{i // 1000:05d}/img{i:08d}.png"
            shape = (res, res, 3) if mode == "RGB" else (res, res)
            arr = rng.integers(0, 256, shape, dtype=np.uint8)
            z.writestr(name, png_bytes(Image.fromarray(arr, mode)))
            names.append(name)
            lab.append(i % 3 if labels == "int" else [float(i), -float(i)])
        if labels != "absent":
            meta = {"labels": None if labels is None else [list(x) for x in zip(names, lab)]}
            z.writestr("dataset.json", json.dumps(meta))
    return path


def env_with(monkeypatch, **kv) -> None:
    for k, v in kv.items():
        monkeypatch.setenv(k, str(v))


__all__ = [n for n in dir() if not n.startswith("_") and n not in {"os"}]
