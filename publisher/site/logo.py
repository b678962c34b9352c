"""The authority's logo, as its website shows it: a PNG or JPEG, decoded and encoded again from its
pixels alone, so that no metadata of the file (EXIF with a designer's name or a GPS position,
XMP, comments, text chunks, colour profiles) is published.

SVG is refused: an SVG is a document that can carry scripts and load files from other origins,
and the site runs no script and loads nothing from elsewhere. The logo is also scaled down to
what a page header needs, so that a print-quality file does not weigh on a site under load.

The configuration check (publisher.edges.config) and the site (publisher.site.website) both use
`read_logo`: what passes the check at start is what the site writes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from publisher.domain.limits import LIMITS

SUFFIXES = {"PNG": ".png", "JPEG": ".jpg"}
# At most three times the header's largest logo (style.css: 4rem high, the page 46rem wide), for
# screens with three device pixels to a CSS pixel.
MAX_SIZE = (3 * 46 * 16, 3 * 4 * 16)
MAX_BYTES = 20_000_000  # far more than any logo: a file this large is the wrong file


class LogoError(Exception):
    """What is wrong with a logo file, said so that it reads after the key's name."""


@dataclass(frozen=True)
class Logo:
    data: bytes
    suffix: str
    width: int
    height: int

    @property
    def name(self) -> str:
        """Its file name in the site's directory."""
        return "logo" + self.suffix


def read_logo(path: Path) -> Logo:
    """The logo in this file as the site publishes it (see `clean_logo`). Raises OSError for a file
    that cannot be read, LogoError for one that is not a logo."""
    with path.open("rb") as file:
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise LogoError(f"is larger than {MAX_BYTES // 1_000_000} MB; a logo needs far less")
    return clean_logo(raw)


def clean_logo(raw: bytes) -> Logo:
    """The logo as the site publishes it, without metadata and at most `MAX_SIZE`. Raises
    LogoError for a file that is not a PNG or JPEG Herold can read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as source:
                kind = source.format or ""
                if kind not in SUFFIXES:
                    raise LogoError(f"is a {kind or 'unknown'} image; use a PNG or JPEG")
                width, height = source.size
                # Checked from the header, before a pixel is decoded: a small file can hold a huge image.
                if width * height > LIMITS.image_pixels:
                    raise LogoError(f"has {width} × {height} pixels; a logo needs far fewer: scale it down")
                pixels = _pixels(source, kind)
    except LogoError:
        raise
    except UnidentifiedImageError:
        if b"<svg" in raw[:4096].lower():
            raise LogoError(
                "is an SVG; use a PNG or JPEG (an SVG can carry scripts and load files from elsewhere)"
            ) from None
        raise LogoError("is not an image Herold can read; use a PNG or JPEG") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LogoError("has far more pixels than a logo needs: scale it down") from None
    except Exception as error:  # a damaged file makes decoders raise anything (SyntaxError, struct.error …)
        raise LogoError(f"is damaged or incomplete ({type(error).__name__}); save it again as a PNG or JPEG") from None
    out = io.BytesIO()
    if kind == "JPEG":
        pixels.save(out, "JPEG", quality=90)
    else:
        pixels.save(out, "PNG", optimize=True)
    return Logo(out.getvalue(), SUFFIXES[kind], pixels.width, pixels.height)


def _pixels(source: Image.Image, kind: str) -> Image.Image:
    """The pixels, upright and scaled down, in a new image that knows nothing else of the file."""
    source.draft(source.mode, MAX_SIZE)  # a large JPEG is decoded at a fraction of its size: cheap
    upright: Image.Image = ImageOps.exif_transpose(source) or source
    if kind == "JPEG":
        converted = upright.convert("RGB")
    else:
        # The palette and the transparency chunk are kept as colours and an alpha channel.
        transparent = upright.mode in {"RGBA", "LA", "PA"} or "transparency" in upright.info
        converted = upright.convert("RGBA" if transparent else "RGB")
    converted.thumbnail(MAX_SIZE, Image.Resampling.LANCZOS)
    pixels = Image.new(converted.mode, converted.size)
    pixels.paste(converted)
    return pixels
