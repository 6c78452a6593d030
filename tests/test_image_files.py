"""Any image file a user has: 16-bit and float images, transparency, EXIF orientation, odd modes.

Each file is written in its real format by Pillow (or, for 16-bit RGB PNG, which
Pillow cannot write, by hand from the PNG specification) and read back through
`read_image` and through a real image-folder dataset (celeba) and `dvae data prepare`.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.image_file import read_image
from dvae_cli.errors import CorruptFileError

from conftest import run_dvae

SIZE = (178, 218)   # CelebA's aligned size (width, height)


def png16_rgb(path: Path, rgb: np.ndarray) -> None:
    """A 16-bit RGB PNG (colour type 2, bit depth 16), written from the PNG specification."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def test_sixteen_bit_grayscale_png_is_rescaled_not_white(tmp_path):
    values = np.linspace(0, 65_535, SIZE[0] * SIZE[1]).reshape(SIZE[1], SIZE[0]).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.mode == "L"
    np.testing.assert_allclose(np.asarray(image, dtype=float), values / 257.0, atol=0.51)


def test_sixteen_bit_rgb_png_keeps_its_colours(tmp_path):
    rgb = np.zeros((8, 8, 3), dtype=np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 65_535, 32_768, 0
    png16_rgb(tmp_path / "c.png", rgb)
    image = read_image(tmp_path / "c.png")
    assert image.mode == "RGB"
    assert np.asarray(image)[0, 0].tolist() == pytest.approx([255, 128, 0], abs=1)


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_float_tiff_is_read_as_intensities(tmp_path, top):
    values = np.linspace(0, top, 64 * 64, dtype=np.float32).reshape(64, 64)
    Image.fromarray(values).save(tmp_path / "f.tif")
    image = read_image(tmp_path / "f.tif")
    expected = values * (255 / top)
    np.testing.assert_allclose(np.asarray(image, dtype=float), expected, atol=0.51)
    assert np.asarray(image).max() == 255, "a float image in [0, 1] came out black"


def test_float_tiff_out_of_range_is_one_line_naming_the_file(tmp_path):
    Image.fromarray(np.full((4, 4), -3.0, dtype=np.float32)).save(tmp_path / "bad.tif")
    with pytest.raises(CorruptFileError, match=r"bad.tif.*\[-3, -3\]") as info:
        read_image(tmp_path / "bad.tif")
    assert "\n" not in str(info.value)


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 200                  # red everywhere ...
    rgba[:5, :, 3] = 255                # ... opaque on the top half, transparent below
    rgba[5:, :, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    out = np.asarray(read_image(tmp_path / "t.png"))
    assert out[0, 0].tolist() == [200, 0, 0] and out[9, 9].tolist() == [255, 255, 255]
    la = Image.fromarray(rgba[..., [0, 3]], mode="LA")
    la.save(tmp_path / "la.png")
    gray = np.asarray(read_image(tmp_path / "la.png"))
    assert gray[0, 0] == 200 and gray[9, 9] == 255


def test_palette_with_a_transparent_colour(tmp_path):
    image = Image.new("P", (6, 6), 0)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    image.paste(1, (0, 0, 3, 6))
    image.save(tmp_path / "p.png", transparency=0)
    out = np.asarray(read_image(tmp_path / "p.png"))
    assert out[0, 0].tolist() == [10, 200, 30] and out[0, 5].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)    # landscape, bright left edge
    pixels[:, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = 6                                   # "rotate 90 CW to view"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    upright = np.asarray(read_image(tmp_path / "phone.jpg"))
    assert upright.shape == (40, 20, 3), "the portrait photo stayed on its side"
    assert upright[:4].mean() > 200 and upright[-4:].mean() < 50   # the bright edge is now on top


def test_cmyk_jpeg_and_one_bit_images(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "k.jpg")
    red = np.asarray(read_image(tmp_path / "k.jpg"))[4, 4]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    Image.new("1", (8, 8), 1).save(tmp_path / "b.png")
    assert np.asarray(read_image(tmp_path / "b.png", channels=3)).min() == 255


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(CorruptFileError, match="x.png"):
        read_image(tmp_path / "x.png")


def _celeba_folder(data_dir: Path) -> Path:
    folder = data_dir / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    return folder


def test_an_image_folder_dataset_of_mixed_files_through_data_prepare(tmp_path):
    """celeba's image folder holding a 16-bit PNG, a float TIFF, a transparent PNG and a rotated JPEG."""
    folder = _celeba_folder(tmp_path / "data")
    width, height = SIZE
    Image.fromarray(np.full((height, width), 65_535, dtype=np.uint16)).save(folder / "000001.png")
    Image.fromarray(np.full((height, width), 1.0, dtype=np.float32)).save(folder / "000002.tif")
    clear = np.zeros((height, width, 4), dtype=np.uint8)
    Image.fromarray(clear, mode="RGBA").save(folder / "000003.png")
    Image.fromarray(np.full((height, width, 3), 255, dtype=np.uint8)).save(folder / "000004.jpg", quality=95)
    result = run_dvae("data", "prepare", "celeba", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    cache = np.load(tmp_path / "data" / dataset_info("celeba").prepared, mmap_mode="r")
    assert cache.shape == (4, 3, 64, 64)
    for index in range(4):   # every one of them is white, as an image viewer shows it
        assert cache[index].min() >= 250, index


def test_an_unreadable_file_in_a_dataset_is_one_error_line(tmp_path):
    folder = _celeba_folder(tmp_path / "data")
    Image.fromarray(np.zeros((218, 178, 3), dtype=np.uint8)).save(folder / "000001.jpg")
    Image.fromarray(np.full((218, 178), -1.0, dtype=np.float32)).save(folder / "000002.tif")
    result = run_dvae("data", "prepare", "celeba", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "000002.tif" in result.stderr and "floating-point" in result.stderr
