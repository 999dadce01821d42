"""Reading images: every Pillow mode to RGB, transparency on white, EXIF orientation, resize
modes, and a clear error naming the file for each kind of bad file."""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np

import pytest
import torch
from PIL import Image

from nst.contracts.image_files import MAX_IMAGE_PIXELS
from nst.study.plan.catalog import check_readable, find_images
from nst.run.engine import stylize
from nst.errors import ImageError, NSTError
from nst.run.images import load_image, open_rgb
from nst.run.writer import write_run

from kit import image_array, make_image, tiny_params

RED, BLUE = (255, 0, 0), (0, 0, 255)


def half_and_half(width=32, height=32, left=RED, right=BLUE) -> np.ndarray:
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = left
    arr[:, width // 2:] = right
    return arr


def pixels(tensor: torch.Tensor) -> np.ndarray:
    """1x3xHxW in [0, 1] -> HxWx3 in 0..255 (float)."""
    return tensor[0].permute(1, 2, 0).numpy() * 255


# --- modes ---------------------------------------------------------------------------------
def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = Image.fromarray(np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1)), "L")
    gray.save(tmp_path / "gray.png")
    image, info = load_image(tmp_path / "gray.png", 32, "square")
    assert info.mode == "L" and not info.alpha_composited_on_white
    assert image.shape == (1, 3, 32, 32)
    assert torch.equal(image[0, 0], image[0, 1]) and torch.equal(image[0, 1], image[0, 2])
    assert np.allclose(pixels(image)[..., 0], np.asarray(gray), atol=1e-3)


def test_palette_image_keeps_its_colours(tmp_path):
    palette = Image.fromarray(image_array(32, 32, seed=4), "RGB").convert("P")
    palette.save(tmp_path / "palette.png")
    image, info = load_image(tmp_path / "palette.png", 32, "square")
    assert info.mode == "P" and not info.alpha_composited_on_white
    assert np.allclose(pixels(image), np.asarray(palette.convert("RGB")), atol=1e-3)


def test_palette_transparency_is_composited_on_white(tmp_path):
    palette = Image.fromarray(half_and_half(), "RGB").convert("P")
    red_index = int(np.asarray(palette)[0, 0])
    palette.save(tmp_path / "ptrans.png", transparency=red_index)  # the red half is transparent
    image, info = load_image(tmp_path / "ptrans.png", 32, "square")
    assert info.mode == "P" and info.alpha_composited_on_white
    out = pixels(image)
    assert np.allclose(out[:, :16], 255, atol=1e-3)  # transparent -> white
    assert np.allclose(out[:, 16:], BLUE, atol=1e-3)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(mode, tmp_path):
    colour = half_and_half(left=(200, 200, 200), right=(40, 40, 40))
    alpha = np.zeros((32, 32), np.uint8)
    alpha[:, 16:] = 255            # right half opaque
    alpha[:8, :16] = 128           # top-left quarter of the left half half-transparent
    rgba = np.dstack([colour, alpha])
    img = Image.fromarray(rgba, "RGBA")
    img = img if mode == "RGBA" else img.convert("LA")
    img.save(tmp_path / f"{mode}.png")
    image, info = load_image(tmp_path / f"{mode}.png", 32, "square")
    assert info.mode == mode and info.alpha_composited_on_white
    out = pixels(image)
    assert np.allclose(out[8:, :16], 255, atol=1e-3)                  # transparent -> white
    assert np.allclose(out[:, 16:], 40, atol=1.01)                    # opaque keeps its value
    assert np.allclose(out[:8, :16], 200 * 128 / 255 + 255 * 127 / 255, atol=1.01)  # blended


def test_cmyk_is_converted(tmp_path):
    cmyk = np.zeros((32, 32, 4), np.uint8)
    cmyk[:, :16] = (255, 0, 0, 0)   # cyan
    cmyk[:, 16:] = (0, 0, 0, 255)   # black
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "cmyk.tif")
    image, info = load_image(tmp_path / "cmyk.tif", 32, "square")
    assert info.mode == "CMYK" and not info.alpha_composited_on_white
    out = pixels(image)
    assert np.allclose(out[:, :16], (0, 255, 255), atol=1e-3)
    assert np.allclose(out[:, 16:], 0, atol=1e-3)


def test_sixteen_bit_grayscale_uses_the_full_range(tmp_path):
    values = np.zeros((32, 32), np.uint16)
    values[:, 8:16], values[:, 16:24], values[:, 24:] = 1000, 32768, 65535
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    image, info = load_image(tmp_path / "deep.png", 32, "square")
    assert info.mode.startswith("I")
    out = pixels(image)[..., 0]
    assert np.allclose(out[:, :8], 0, atol=1e-3)
    assert np.allclose(out[:, 8:16], round(1000 / 65535 * 255), atol=1e-3)   # 4, not clipped to 255
    assert np.allclose(out[:, 16:24], 128, atol=1e-3)
    assert np.allclose(out[:, 24:], 255, atol=1e-3)


def float_tiff(path: Path, values: np.ndarray) -> Path:
    Image.fromarray(values.astype(np.float32)).save(path)
    assert Image.open(path).mode == "F"  # 32-bit float, as scientific and HDR tools write it
    return path


@pytest.mark.parametrize("white", [1.0, 255.0])
def test_a_float_image_is_scaled_by_its_range(tmp_path, white):
    """A 32-bit float TIFF holds 0..1 (or 0..255): each value is its share of white, not a
    number of 8-bit steps (0..1 read as 0..255 is an almost black image)."""
    values = np.zeros((32, 32))
    values[:, 8:16], values[:, 16:24], values[:, 24:] = 0.25 * white, 0.5 * white, white
    image, info = load_image(float_tiff(tmp_path / "float.tif", values), 32, "square")
    assert info.mode == "F"
    out = pixels(image)
    assert np.allclose(out[:, :8], 0, atol=1e-3) and np.allclose(out[:, 24:], 255, atol=1e-3)
    assert np.allclose(out[:, 8:16], 64, atol=1) and np.allclose(out[:, 16:24], 128, atol=1)
    assert np.allclose(out[..., 0], out[..., 2])


@pytest.mark.parametrize("bad", [-0.5, 300.0, np.nan, np.inf])
def test_a_float_image_outside_both_ranges_is_refused_naming_the_file(tmp_path, bad):
    values = np.full((32, 32), 0.5)
    values[0, 0] = bad
    path = float_tiff(tmp_path / "odd.tif", values)
    for read in (open_rgb, check_readable):  # in a run, and at planning (before any job)
        with pytest.raises(ImageError) as info:
            read(path)
        assert str(path) in str(info.value) and "0..1" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("mode, composited", [("RGBA", True), ("LA", True), ("L", False), ("RGB", False)])
def test_run_json_records_alpha_compositing(mode, composited, tmp_path, style_path):
    content = make_image(tmp_path / "content.png", 32, 32, seed=3, mode=mode)
    result = stylize(tiny_params(iterations=1), content, style_path)
    write_run(result, tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["content"]["mode"] == mode
    assert record["content"]["alpha_composited_on_white"] is composited
    assert record["style"]["alpha_composited_on_white"] is False


# --- EXIF orientation ----------------------------------------------------------------------
def test_exif_orientation_is_applied(tmp_path):
    stored = Image.fromarray(half_and_half(48, 32), "RGB")  # 48 wide, 32 high; red left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    image, info = load_image(tmp_path / "phone.jpg", 48, "keep_aspect")
    assert info.original_size == (32, 48)
    assert image.shape == (1, 3, 48, 32)
    out = pixels(image)
    # turned clockwise, the stored left (red) half is on top
    assert out[:20, :, 0].mean() > 200 and out[:20, :, 2].mean() < 50
    assert out[28:, :, 2].mean() > 200 and out[28:, :, 0].mean() < 50


# --- resize modes --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "resize, expected",  # expected (width, height) of a 64x32 content at size 32
    [("square", (32, 32)), ("keep_aspect", (32, 16))],
)
def test_resize_modes_and_output_has_the_content_size(resize, expected, tmp_path, style_path):
    content = make_image(tmp_path / "wide.png", 64, 32, seed=6)
    tall_style = make_image(tmp_path / "tall.png", 20, 50, seed=7)
    result = stylize(tiny_params(resize=resize, iterations=2), content, tall_style)
    width, height = expected
    assert result.image.shape == (1, 3, height, width)
    assert result.content.size == expected and result.content.original_size == (64, 32)
    assert max(result.style.size) == 32
    if resize == "keep_aspect":
        assert result.style.size == (13, 32)  # 20x50 with the long side 32
    write_run(result, tmp_path / "run")
    assert Image.open(tmp_path / "run" / "image.png").size == expected


# --- bad files -----------------------------------------------------------------------------
def truncated_png(path):
    buffer = io.BytesIO()
    Image.fromarray(image_array(32, 32, seed=8), "RGB").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


BAD_FILES = {
    "missing": (lambda p: None, "does not exist"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "garbage": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(2000)), "cannot read image"),
    "text": (lambda p: p.write_text("not an image at all\n"), "cannot read image"),
    "truncated": (truncated_png, "truncated"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_image_gives_a_clear_error_naming_the_file(kind, tmp_path):
    path = tmp_path / f"bad-{kind}.png"
    write, reason = BAD_FILES[kind]
    write(path)
    with pytest.raises(ImageError) as info:
        open_rgb(path)
    message = str(info.value)
    assert str(path) in message and reason in message
    assert "\n" not in message
    assert isinstance(info.value, NSTError)  # the CLI prints these as one line


@pytest.mark.parametrize("role", ["content", "style"])
def test_stylize_refuses_a_bad_image_before_any_work(role, tmp_path, content_path, style_path):
    bad = tmp_path / "broken.png"
    truncated_png(bad)
    paths = {"content": content_path, "style": style_path, role: bad}
    with pytest.raises(ImageError, match="broken.png"):
        stylize(tiny_params(iterations=1), paths["content"], paths["style"])


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="is a folder, not an image file"):
        open_rgb(tmp_path)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000])  # over the limit; over twice the limit (Pillow's own error)
def test_an_image_over_the_pixel_limit_is_refused_by_name_before_decoding(tmp_path, side):
    bomb = png_header_only(tmp_path / "bomb.png", side, side)
    assert bomb.stat().st_size < 200
    for read in (open_rgb, check_readable):
        with pytest.raises(ImageError) as info:
            read(bomb)
        message = str(info.value)
        assert "bomb.png" in message and f"{MAX_IMAGE_PIXELS:,} px" in message
    with pytest.raises(ImageError, match="bomb.png"):
        find_images(tmp_path, "content")


def test_image_too_small_for_the_deepest_layer_is_a_clear_error(tmp_path, style_path):
    """Five 2x2 poolings need 32 px on each side: a 64x30 content at keep_aspect 64 is too
    short for pool_5, fine for relu_13 (four poolings, 16 px)."""
    wide = make_image(tmp_path / "wide.png", 64, 30, seed=3)
    params = tiny_params(size=64, resize="keep_aspect", iterations=1, content_layers=["pool_5"])
    with pytest.raises(ImageError) as info:
        stylize(params, wide, style_path)
    assert "wide.png" in str(info.value) and "64x30" in str(info.value) and "layer pool5 " in str(info.value)
    assert stylize(params.replace(content_layers=["relu_13"]), wide, style_path).status == "ok"
    assert stylize(params.replace(resize="square"), wide, style_path).status == "ok"


def test_image_too_small_for_the_fixed_evaluation_is_a_clear_error(tmp_path):
    """Every run is also scored with the baseline's layers (down to conv_5, two poolings)."""
    strip = make_image(tmp_path / "strip.png", 200, 10, seed=3)
    params = tiny_params(resize="keep_aspect", iterations=1, content_layers=["conv_1"], style_layers=["conv_1"])
    with pytest.raises(ImageError, match=r"strip.png.*32x2 px.*layer conv3_1 "):
        stylize(params, strip, strip)
