"""The registry of emoji styles: the ONE place that lists where each style's images come from.

A style is a source of one 64 px (or any square size) image per emoji code point. Metadata (names,
categories, skin tones) always comes from ``package/emoji.json`` of an ``emoji-datasource-*`` npm
package (identical in all of them), so every style shares the same ids and the same split.

Adding a style takes one :class:`EmojiStyle` entry, for example (in this file, or at run time with
:func:`register_style` from your own code):

* another emoji-datasource vendor (same tarball layout)::

      register_style(EmojiStyle(
          key="facebook", title="Facebook", package="emoji-datasource-facebook", version="16.0.0",
          image_paths=("package/img/facebook/64/{image}",), has_img_flag="has_img_facebook",
          license="...", attribution="..."))

* a folder (or a .tgz/.zip) of PNGs you rendered yourself, e.g. OpenMoji's ``color/72x72`` PNGs
  named by upper-case code point (``1F600.png``); images of another size are centre-cropped and
  resized to the requested resolution, fully-qualified names are tried before non-qualified ones::

      register_style(EmojiStyle(
          key="openmoji", title="OpenMoji", folder="/data/openmoji/color/72x72",
          image_paths=("{unified}.png", "{non_qualified}.png"), metadata_from="google",
          license="CC BY-SA 4.0", attribution="OpenMoji, the open-source emoji and icon project. "
          "License: CC BY-SA 4.0 https://creativecommons.org/licenses/by-sa/4.0/"))

Fields available in ``image_paths`` templates: ``image`` (emoji-datasource file name, lower case,
``1f600.png``), ``unified`` (``1F600``), ``unified_lower``, ``non_qualified`` (falls back to
``unified`` when there is none), ``non_qualified_lower``.

Apple and Facebook images are not openly licensed: never register them for a data set you publish.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import DataError

# The emoji-datasource packages are MIT-licensed (metadata and tooling, Cal Henderson); their
# images keep the licence of their vendor, given per style below.
EMOJI_DATASOURCE_VERSION = "16.0.0"
# Every style's images are 64 px. An emoji data set is built at that size or downsampled, never
# upsampled (that would invent no detail): `stylealign data emoji --resolution`, build_emoji_dataset and
# params.yaml's data.resolution (for source: emoji) all take one of these.
EMOJI_RESOLUTIONS = (64, 32, 16)


@dataclass(frozen=True)
class EmojiStyle:
    """One emoji style: where its images are, and the licence that travels with them."""

    key: str
    """Name on the command line (``--style KEY``) and in ``dataset.json``."""
    title: str
    """Human-readable name, e.g. ``"Noto Emoji (Google)"``."""
    image_paths: tuple[str, ...]
    """Candidate paths of one emoji's image inside the source, as ``str.format`` templates; the
    first that exists is used."""
    license: str
    """SPDX-like licence name of the images."""
    attribution: str
    """Attribution text written to ``ATTRIBUTION.txt`` of every data set built from this style."""
    package: str | None = None
    """npm package holding the images (``npm pack PACKAGE@VERSION``)."""
    version: str | None = None
    integrity: str | None = None
    """Pinned ``dist.integrity`` of the npm tarball; the fetched tarball must match it as well as
    the integrity npm reports. ``None``: trust what npm reports."""
    folder: str | None = None
    """Instead of ``package``: a local directory, ``.tgz`` or ``.zip`` holding the images."""
    has_img_flag: str | None = None
    """``emoji.json`` flag (e.g. ``has_img_google``) that says an image exists in this style; the
    image must also really be in the source."""
    metadata_from: str | None = None
    """Key of the style whose npm package provides ``package/emoji.json``; ``None``: this style's
    own package."""
    license_file: str | None = None
    """Name of a full licence text in :mod:`stylealign_core.data.license_texts` to copy into the
    data set's ``LICENSE`` file (needed for Apache-2.0); ``None``: the attribution suffices."""

    def __post_init__(self):
        if (self.package is None) == (self.folder is None):
            raise DataError(f"emoji style {self.key!r} must set exactly one of package= or folder=",
                            hint="see the examples in stylealign_core/data/styles.py")
        if self.package is not None and not self.version:
            raise DataError(f"emoji style {self.key!r} names npm package {self.package!r} without a "
                            "version", hint="pin an exact version, e.g. version='16.0.0'")
        if self.folder is not None and self.metadata_from is None:
            raise DataError(f"emoji style {self.key!r} reads images from a folder but names no "
                            "metadata source", hint="set metadata_from='google' (any "
                            "emoji-datasource style)")

    @property
    def spec(self) -> str:
        """``NAME@VERSION`` of the npm package (or the folder path)."""
        return f"{self.package}@{self.version}" if self.package else str(self.folder)


TWEMOJI_ATTRIBUTION = (
    "Twemoji graphics (https://github.com/jdecked/twemoji, v16.0.1, as packaged in the npm package "
    f"emoji-datasource-twitter@{EMOJI_DATASOURCE_VERSION}).\n"
    "Copyright 2019 Twitter, Inc and other contributors; maintained since 2023 by the jdecked/twemoji "
    "contributors.\n"
    "Graphics licensed under CC-BY 4.0: https://creativecommons.org/licenses/by/4.0/\n"
    "Changes made: composited on a white background, alpha kept as a separate mask, resized from "
    "64x64 when dataset.json states another resolution."
)

NOTO_ATTRIBUTION = (
    "Noto Emoji images (https://github.com/googlefonts/noto-emoji, v2.048, as packaged in the npm "
    f"package emoji-datasource-google@{EMOJI_DATASOURCE_VERSION}).\n"
    "Copyright Google Inc. Licensed under the Apache License, Version 2.0 (the full text is in the "
    "LICENSE file of this data set); flag images from third_party/region-flags are in the public "
    "domain or otherwise exempt from copyright.\n"
    "Changes made: composited on a white background, alpha kept as a separate mask, resized from "
    "64x64 when dataset.json states another resolution."
)

STYLES: dict[str, EmojiStyle] = {}


def register_style(style: EmojiStyle, replace: bool = False) -> EmojiStyle:
    """Add ``style`` to the registry (``replace=True`` to redefine an existing key)."""
    if style.key in STYLES and not replace:
        raise DataError(f"emoji style {style.key!r} is already registered",
                        hint="pick another key or pass replace=True")
    STYLES[style.key] = style
    return style


def get_style(key: str) -> EmojiStyle:
    """The registered style ``key``; a :class:`DataError` listing the known ones otherwise."""
    try:
        return STYLES[key]
    except KeyError:
        raise DataError(f"unknown emoji style {key!r}",
                        hint=f"use one of: {', '.join(sorted(STYLES))}") from None


register_style(EmojiStyle(
    key="google", title="Noto Emoji (Google)", package="emoji-datasource-google",
    version=EMOJI_DATASOURCE_VERSION,
    integrity="sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A==",
    image_paths=("package/img/google/64/{image}",), has_img_flag="has_img_google",
    license="Apache-2.0", attribution=NOTO_ATTRIBUTION, license_file="Apache-2.0",
))

register_style(EmojiStyle(
    key="twitter", title="Twemoji (Twitter)", package="emoji-datasource-twitter",
    version=EMOJI_DATASOURCE_VERSION,
    integrity="sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ==",
    image_paths=("package/img/twitter/64/{image}",), has_img_flag="has_img_twitter",
    license="CC-BY-4.0", attribution=TWEMOJI_ATTRIBUTION,
))
