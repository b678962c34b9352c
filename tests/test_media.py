"""Images: nothing but pixels leaves the authority, upright, stored once under their content hash."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from publisher.domain.announcement import Media
from publisher.engine.media import CleanImage, MediaError, clean, store

ARTIST, MAKE, ORIENTATION, GPS_IFD = 0x013B, 0x010F, 0x0112, 0x8825
GPS_COLOGNE = {1: "N", 2: (50.0, 56.0, 20.0), 3: "E", 4: (6.0, 57.0, 30.0)}
PHOTOGRAPHER = "Max Mustermann"
RED, BLUE = (220, 20, 20), (20, 20, 220)


def photo(size: tuple[int, int] = (20, 10), orientation: int | None = None) -> bytes:
    """A JPEG as a phone takes it: red left half, blue right half, EXIF with GPS and artist."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ARTIST] = PHOTOGRAPHER
    exif[MAKE] = "Canon"
    exif[GPS_IFD] = GPS_COLOGNE
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def encoded(image_format: str, mode: str = "RGB", size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128 if mode in {"1", "L", "P"} else (10, 120, 10)).save(out, image_format)
    return out.getvalue()


def half_a_png() -> bytes:
    """A PNG cut off in the middle of its pixel data, as an interrupted upload leaves it."""
    out = io.BytesIO()
    Image.linear_gradient("L").save(out, "PNG")
    return out.getvalue()[: len(out.getvalue()) // 2]


def as_data(raw: bytes, alt: str = "Karte des Sperrgebiets") -> Media:
    return Media(data=base64.b64encode(raw).decode(), alt=alt)


def opened(image: CleanImage) -> Image.Image:
    return Image.open(io.BytesIO(image.data))


def is_reddish(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 150 and pixel[2] < 100


def is_bluish(pixel: tuple[int, ...]) -> bool:
    return pixel[2] > 150 and pixel[0] < 100


# --- cleaning ---------------------------------------------------------------------------------------------


def test_a_photo_loses_all_exif_including_gps_position_and_photographer() -> None:
    raw = photo()
    original = Image.open(io.BytesIO(raw)).getexif()
    assert original[ARTIST] == PHOTOGRAPHER, "the test photo must carry EXIF to begin with"
    assert original.get_ifd(GPS_IFD)[2] == (50.0, 56.0, 20.0)

    cleaned = clean(raw, "Karte des Sperrgebiets")

    assert cleaned.suffix == ".jpg"
    assert opened(cleaned).format == "JPEG"
    assert dict(opened(cleaned).getexif()) == {}
    assert "exif" not in opened(cleaned).info
    assert b"Exif" not in cleaned.data
    assert PHOTOGRAPHER.encode() not in cleaned.data
    assert b"Canon" not in cleaned.data


def test_comments_and_xmp_in_a_jpeg_are_removed() -> None:
    out = io.BytesIO()
    xmp = f"<x:xmpmeta><dc:creator>{PHOTOGRAPHER}</dc:creator></x:xmpmeta>".encode()
    Image.new("RGB", (8, 8), RED).save(out, "JPEG", comment=f"Foto: {PHOTOGRAPHER}".encode(), xmp=xmp)
    assert PHOTOGRAPHER.encode() in out.getvalue()

    cleaned = clean(out.getvalue(), "Karte des Sperrgebiets")

    assert PHOTOGRAPHER.encode() not in cleaned.data
    assert {"comment", "xmp", "exif"}.isdisjoint(opened(cleaned).info)


def test_text_chunks_and_exif_in_a_png_are_removed_and_transparency_kept() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", PHOTOGRAPHER)
    info.add_itxt("Comment", "Aufgenommen bei 50.94 N, 6.96 E")
    exif = Image.Exif()
    exif[ARTIST] = PHOTOGRAPHER
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info, exif=exif.tobytes())

    cleaned = clean(out.getvalue(), "Karte des Sperrgebiets")

    image = opened(cleaned)
    assert cleaned.suffix == ".png"
    assert image.info == {}
    assert dict(image.getexif()) == {}
    assert PHOTOGRAPHER.encode() not in cleaned.data
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0)) == (0, 0, 255, 128)


@pytest.mark.parametrize(
    ("orientation", "size", "top_left_is"),
    [
        pytest.param(None, (20, 10), "red", id="no-orientation"),
        pytest.param(1, (20, 10), "red", id="1-upright"),
        pytest.param(3, (20, 10), "blue", id="3-upside-down"),
        pytest.param(6, (10, 20), "red", id="6-turned-right"),
        pytest.param(8, (10, 20), "blue", id="8-turned-left"),
    ],
)
def test_a_photo_is_turned_upright_as_its_exif_says(
    orientation: int | None, size: tuple[int, int], top_left_is: str
) -> None:
    cleaned = opened(clean(photo((20, 10), orientation), "Karte des Sperrgebiets"))

    assert cleaned.size == size
    corner = cleaned.convert("RGB").getpixel((1, 1))
    assert isinstance(corner, tuple)
    assert (is_reddish if top_left_is == "red" else is_bluish)(corner)
    assert ORIENTATION not in cleaned.getexif()


@pytest.mark.parametrize(
    ("image_format", "mode", "suffix", "stored_as"),
    [
        pytest.param("JPEG", "RGB", ".jpg", "JPEG", id="jpeg"),
        pytest.param("PNG", "RGB", ".png", "PNG", id="png"),
        pytest.param("PNG", "P", ".png", "PNG", id="png-palette"),
        pytest.param("WEBP", "RGB", ".webp", "WEBP", id="webp"),
        pytest.param("GIF", "P", ".png", "PNG", id="gif-becomes-png"),
    ],
)
def test_usual_web_formats_are_accepted(image_format: str, mode: str, suffix: str, stored_as: str) -> None:
    cleaned = clean(encoded(image_format, mode), "Lageplan")

    assert cleaned.suffix == suffix
    assert cleaned.alt == "Lageplan"
    assert opened(cleaned).format == stored_as
    assert opened(cleaned).size == (8, 8)


# --- refusing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"Sehr geehrte Damen und Herren", "is not an image Herold can read", id="text"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is not an image Herold can read", id="pdf"),
        pytest.param(b"", "is not an image Herold can read", id="empty"),
        pytest.param(encoded("BMP"), "is a BMP image; use JPEG, PNG or WebP", id="bmp"),
        pytest.param(encoded("TIFF"), "is a TIFF image; use JPEG, PNG or WebP", id="tiff"),
        pytest.param(photo()[:300], "is a damaged image", id="truncated-jpeg"),
        pytest.param(half_a_png(), "is a damaged image", id="truncated-png"),
    ],
)
def test_what_is_not_a_usable_image_is_refused_with_a_clear_reason(raw: bytes, message: str) -> None:
    with pytest.raises(MediaError) as caught:
        clean(raw, "Karte des Sperrgebiets")

    assert str(caught.value).startswith(message)


def test_a_decompression_bomb_is_refused() -> None:
    # 7,000 x 7,000 pixels in a few kilobytes: more than Herold will ever decode.
    bomb = encoded("PNG", mode="1", size=(7000, 7000))
    assert len(bomb) < 50_000

    with pytest.raises(MediaError, match=r"has 7000 × 7000 pixels .* at most 16.8 megapixels"):
        clean(bomb, "Karte des Sperrgebiets")


def test_an_image_with_more_pixels_than_herold_decodes_is_refused_before_decoding() -> None:
    # A few kilobytes of PNG that would decode to 144 MB: refused from its header alone.
    nearly_empty = encoded("PNG", mode="RGBA", size=(6000, 6000))
    assert len(nearly_empty) < 300_000

    with pytest.raises(MediaError) as refused:
        clean(nearly_empty, "Karte des Sperrgebiets")

    assert str(refused.value) == (
        "has 6000 × 6000 pixels (36.0 megapixels); Herold takes at most 16.8 megapixels (e.g. 4096 × 4096): "
        "scale it down"
    )


def test_a_large_camera_jpeg_is_taken_at_a_size_herold_can_decode() -> None:
    cleaned = clean(photo(size=(6000, 4000)), "Karte des Sperrgebiets")

    assert opened(cleaned).size == (3000, 2000)
    assert dict(opened(cleaned).getexif()) == {}


@pytest.mark.parametrize(
    "damage", [b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a" + b"\xff" * 30, b"RIFF\x00\x00\x00\x00WEBPVP8 "]
)
def test_a_damaged_file_of_any_kind_is_named_as_such(damage: bytes) -> None:
    with pytest.raises(MediaError):
        clean(damage, "Karte des Sperrgebiets")


# --- storing --------------------------------------------------------------------------------------------------


def test_a_clean_image_is_stored_under_its_content_hash(tmp_path: Path) -> None:
    cleaned = clean(photo(), "Karte des Sperrgebiets")
    name = hashlib.sha256(cleaned.data).hexdigest()[:32] + ".jpg"

    media = store(cleaned, tmp_path / "var")

    assert media == Media(path=f"media/{name}", alt="Karte des Sperrgebiets")
    assert (tmp_path / "var" / "media" / name).read_bytes() == cleaned.data
    assert media.path is not None
    assert (tmp_path / "var" / media.path).is_file()


def test_the_same_picture_twice_is_stored_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    first = store(clean(photo(), "Karte"), data_dir)
    second = store(clean(photo(), "Lageplan"), data_dir)

    assert first.path == second.path
    assert (first.alt, second.alt) == ("Karte", "Lageplan")
    assert [p.name for p in (data_dir / "media").iterdir()] == [Path(str(first.path)).name]


def test_different_pictures_are_stored_side_by_side(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    first = store(clean(photo((20, 10)), "Karte des Sperrgebiets"), data_dir)
    second = store(clean(encoded("PNG"), "Karte des Sperrgebiets"), data_dir)

    assert first.path != second.path
    assert sorted(p.suffix for p in (data_dir / "media").iterdir()) == [".jpg", ".png"]
