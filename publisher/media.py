"""Images: checked, stripped of every piece of metadata, stored under their content hash.

Photos carry EXIF data: GPS position, camera serial numbers, the photographer's name. None of
it may leave the authority (data minimisation), so an image is decoded and re-encoded from
its pixels alone, after turning it upright per its EXIF orientation.
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from publisher.announcement import MAX_IMAGE_BYTES, Media

# A decompression bomb (a tiny file that expands to gigapixels) must not take a worker down.
Image.MAX_IMAGE_PIXELS = 40_000_000
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".png"}


class MediaError(Exception):
    pass


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    suffix: str
    alt: str

    @property
    def name(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32] + self.suffix


def _raw(media: Media, base_dir: Path | None) -> bytes:
    if media.data is not None:
        return base64.b64decode(media.data)
    assert media.path is not None
    if base_dir is None:
        raise MediaError("send the image itself as base64 data; file paths are only read from the command line")
    path = (base_dir / media.path).resolve()
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise MediaError("is larger than 8 MB")
        return path.read_bytes()
    except FileNotFoundError:
        raise MediaError(f"there is no file {path}") from None
    except OSError as error:
        raise MediaError(f"cannot read {path}: {error.strerror}") from None


def clean(media: Media, base_dir: Path | None = None) -> CleanImage:
    """Decode and re-encode the image without metadata (nothing is written)."""
    raw = _raw(media, base_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as source:
                kind = source.format or ""
                if kind not in FORMATS:
                    raise MediaError(f"is a {kind or 'unknown'} image; use JPEG, PNG or WebP")
                source.seek(0)
                upright = ImageOps.exif_transpose(source)
                pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
                if kind == "GIF":
                    pixels = pixels.convert("RGBA")
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("is not an image Herold can read (or it is far too large)") from None
    except OSError as error:
        raise MediaError(f"is a damaged image: {error}") from None
    out = io.BytesIO()
    if kind == "JPEG":
        pixels.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    elif kind == "WEBP":
        pixels.save(out, "WEBP", quality=88)
    else:
        pixels.save(out, "PNG", optimize=True)
    return CleanImage(out.getvalue(), FORMATS[kind], media.alt)


def store(image: CleanImage, data_dir: Path) -> Media:
    """Write the clean image into Herold's media store; the same picture is stored once."""
    folder = data_dir / "media"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / image.name
    if not target.exists():
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(image.data)
        partial.replace(target)
    return Media(path=f"media/{image.name}", alt=image.alt)
