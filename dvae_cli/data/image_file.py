"""One image file as a person would see it: 8-bit RGB or grayscale, upright, transparency on white.

Pillow decodes every file; this module only decides, per Pillow mode, how its values
map to 8 bits and what becomes of an alpha channel:

- EXIF orientation is applied (``ImageOps.exif_transpose``): a phone photo stored on
  its side comes out upright, as image viewers show it;
- 16-bit images (``I;16*``, and ``I`` with values up to 65,535) are rescaled by
  255 / 65,535; 16-bit RGB PNGs are reduced to 8 bits by Pillow itself;
- floating-point images (``F``, e.g. float32 TIFF) are read as intensities in [0, 1]
  (or in [0, 255] when their largest value is above 1); other ranges are refused;
- transparency (``RGBA``, ``LA``, ``PA``, a palette or grayscale with a transparent
  colour) is composited over **white**, as a browser or viewer shows the image on a
  page; ``CMYK``, ``YCbCr``, ``LAB`` and ``HSV`` are converted by Pillow;
- an animated file gives its first frame.

Standard library, NumPy and Pillow only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.errors import CorruptFileError

#: Colour an image's transparent pixels are composited over.
BACKGROUND = (255, 255, 255)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def _to_eight_bit(image: Any, path: Path) -> Any:
    """`image` as a Pillow image of mode L, LA, RGB or RGBA (8 bits per channel)."""
    from PIL import Image

    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(image, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65_535):
            raise CorruptFileError(f"cannot read image {path}: its 32-bit values span [{values.min()}, "
                                   f"{values.max()}]; dvae reads 8- and 16-bit images and floats in [0, 1]")
        return Image.fromarray(np.rint(values * (255 / 65_535)).astype(np.uint8), mode="L")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 0.0
        low = float(finite.min()) if finite.size else 0.0
        if not np.isfinite(values).all() or low < 0 or top > 255:
            raise CorruptFileError(f"cannot read image {path}: a floating-point image must hold finite "
                                   f"intensities in [0, 1] (or [0, 255]); its values span [{low:.4g}, {top:.4g}]")
        scale = 255.0 if top <= 1.0 else 1.0
        return Image.fromarray(np.rint(values * scale).astype(np.uint8), mode="L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "La":
        return image.convert("LA")
    if mode == "RGBa":
        return image.convert("RGBA")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return image.convert("RGB")
    raise CorruptFileError(f"cannot read image {path}: Pillow mode '{mode}' is not an image dvae can convert "
                           "(use 8- or 16-bit grayscale or RGB, or float intensities)")


def _flatten(image: Any) -> Any:
    """Composite an L/LA/RGB/RGBA image (or L with a transparent colour) over `BACKGROUND`."""
    from PIL import Image

    if image.mode == "L" and "transparency" in image.info:
        image = image.convert("LA")
    if image.mode == "LA":
        background = Image.new("LA", image.size, (BACKGROUND[0], 255))
        return Image.alpha_composite(background.convert("RGBA"), image.convert("RGBA")).convert("L")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image


def read_image(path: Path | str, channels: int | None = None) -> Any:
    """Decode an image file into an upright 8-bit Pillow image.

    Args:
        path: The file (any format Pillow reads: PNG, JPEG, WebP, TIFF, BMP, GIF, ...).
        channels: 1 (mode ``L``), 3 (mode ``RGB``) or None (``L`` or ``RGB``, as the file is).

    Returns:
        A loaded Pillow image of mode ``L`` or ``RGB``.

    Raises:
        CorruptFileError: naming the file, if Pillow cannot decode it or its values
            cannot be mapped to 8 bits.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.seek(0)
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            image = _flatten(_to_eight_bit(image, path))
            image.load()
    except CorruptFileError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(f"cannot read image {path}: {reason[:200]}") from None
    if channels == 1 and image.mode != "L":
        image = image.convert("L")
    elif channels == 3 and image.mode != "RGB":
        image = image.convert("RGB")
    return image
