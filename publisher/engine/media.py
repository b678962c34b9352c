"""Images: checked, stripped of every piece of metadata, stored under their content hash.

Photos carry EXIF data: GPS position, camera serial numbers, the photographer's name. None of
it may leave the authority (data minimisation), so an image is decoded and re-encoded from
its pixels alone, after turning it upright per its EXIF orientation.

Decoding costs memory in proportion to the pixels, not the file: a near-empty PNG of a few
kilobytes can decode to gigabytes. So the size is read from the header first and checked
against ``LIMITS.image_pixels`` before a single pixel is decoded (large JPEGs are decoded scaled
down, which is cheap), and one image at a time is decoded per process.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from publisher.domain.announcement import Media
from publisher.domain.limits import LIMITS
from publisher.domain.problems import Unavailable

# Pillow's own guard against decompression bombs, behind the check below (_fit): it must let
# through a JPEG that decodes at an eighth of its size within the limit.
Image.MAX_IMAGE_PIXELS = LIMITS.image_pixels * 64
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".png"}
_decoding = threading.Semaphore(1)  # decoded pixels are the one large thing intake holds in memory
DECODING_WAIT = 20.0  # seconds an image waits for the decoder before Herold says it is busy


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


def _fit(source: Image.Image) -> None:
    """Refuse an image whose pixels would not fit in memory, before decoding any of them; a JPEG
    that is too large is decoded at a half, a quarter or an eighth of its size instead."""
    width, height = source.size
    limit = LIMITS.image_pixels
    if width * height > limit and source.format == "JPEG":
        scale = next((s for s in (2, 4, 8) if math.ceil(width / s) * math.ceil(height / s) <= limit), None)
        if scale is not None:
            source.draft(source.mode, (math.ceil(width / scale), math.ceil(height / scale)))
            width, height = source.size
    if width * height > limit:
        raise MediaError(
            f"has {width} × {height} pixels ({width * height / 1e6:.1f} megapixels); Herold takes at most "
            f"{limit / 1e6:.1f} megapixels (e.g. 4096 × 4096): scale it down"
        )


def clean(raw: bytes, alt: str) -> CleanImage:
    """Decode and re-encode an image without metadata (nothing is written). Raises MediaError
    for what is wrong with the image, Unavailable when the decoder stays busy too long."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(raw))
            try:
                kind = source.format or ""
                if kind not in FORMATS:
                    raise MediaError(f"is a {kind or 'unknown'} image; use JPEG, PNG or WebP")
                source.seek(0)
                _fit(source)  # from the header: a refusal never waits for the decoder
                if not _decoding.acquire(timeout=DECODING_WAIT):
                    raise Unavailable("Herold is busy decoding other images; try again in a moment", retry_after=10)
                try:
                    data = _encoded(kind, _pixels(source, kind))
                finally:
                    _decoding.release()
            finally:
                source.close()
    except (MediaError, Unavailable):
        raise
    except UnidentifiedImageError:
        raise MediaError("is not an image Herold can read; use JPEG, PNG or WebP") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(
            f"has far more pixels than Herold takes (at most {LIMITS.image_pixels / 1e6:.1f} megapixels): scale it down"
        ) from None
    except MemoryError:
        raise MediaError("is too large to decode here; scale it down") from None
    except Exception as error:  # a damaged file makes decoders raise anything (SyntaxError, struct.error …)
        raise MediaError(f"is a damaged image ({type(error).__name__})") from None
    return CleanImage(data, FORMATS[kind], alt)


def _pixels(source: Image.Image, kind: str) -> Image.Image:
    """The pixels, upright, in a new image that knows nothing else of the file (no EXIF, XMP,
    ICC profile, comments or text chunks). At most two copies of the pixels exist at any
    moment: the decoded file's are freed before the new image is encoded."""
    source.load()
    upright: Image.Image = ImageOps.exif_transpose(source, in_place=True) or source
    if upright.mode in {"P", "PA"} or kind == "GIF":
        upright = upright.convert("RGBA")  # the palette is metadata too: keep the colours, not it
    # A new image, and the pixels pasted into it (tobytes() would hold them twice more).
    pixels = Image.new(upright.mode, upright.size)
    pixels.paste(upright)
    upright.close()
    source.close()  # frees the decoded pixels (leaving a with block would only close the file)
    return pixels


def _encoded(kind: str, pixels: Image.Image) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        # Not optimize=True: it holds every DCT coefficient, twice the pixels, in memory.
        (pixels if pixels.mode in {"RGB", "L", "CMYK"} else pixels.convert("RGB")).save(out, "JPEG", quality=88)
    elif kind == "WEBP":
        pixels.save(out, "WEBP", quality=88)
    else:
        pixels.save(out, "PNG", optimize=True)
    return out.getvalue()


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
