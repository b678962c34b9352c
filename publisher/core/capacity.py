"""What a channel takes besides text: its images, as its capabilities declare them.

Checked at intake for every chosen channel, so that a post a platform would refuse (Instagram
without an image, an alt text longer than the platform keeps) is refused while the press
officer is still there to fix it, not hours later in a delivery's last error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from publisher.domain.capabilities import MediaRule

TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


@dataclass(frozen=True)
class Image:
    """An image as Herold will send it: after cleaning, re-encoded."""

    size: int  # bytes
    suffix: str  # ".jpg", ".png", ".webp"
    alt: str


@dataclass(frozen=True)
class Refusal:
    field: str  # the document's field path, e.g. "media" or "media.1.alt"
    message: str


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def refusals(rule: MediaRule, label: str, images: Sequence[Image]) -> list[Refusal]:
    """Why ``images`` cannot go to a channel with this media ``rule`` (``label``: the platform's
    name, for the message). Empty when they can. A channel that takes no images (count 0) posts
    the text alone; the images stay on the item's page."""
    if rule.required and not images and not rule.takes_card(has_images=False):
        return [Refusal("media", f"{label} publishes nothing without an image: add one (with its alt text)")]
    if rule.count == 0:
        return []
    found: list[Refusal] = []
    if len(images) > rule.count:
        most = f"{rule.count} image" + ("s" if rule.count > 1 else "")
        found.append(Refusal("media", f"{label} takes at most {most} with a post; this has {len(images)}"))
    for number, image in enumerate(images):
        kind = TYPES.get(image.suffix.lower())
        if kind is None or kind not in rule.types:
            names = ", ".join(t.removeprefix("image/").upper() for t in rule.types)
            found.append(Refusal(f"media.{number}", f"{label} takes only {names} images"))
        if rule.max_bytes is not None and image.size > rule.max_bytes:
            found.append(Refusal(
                f"media.{number}",
                f"{label} takes images of at most {_megabytes(rule.max_bytes)}; this one has "
                f"{_megabytes(image.size)} after cleaning: scale it down",
            ))  # fmt: skip
        if rule.alt_text is not None and len(image.alt) > rule.alt_text:
            found.append(Refusal(
                f"media.{number}.alt",
                f"{label} keeps alt texts of at most {rule.alt_text:,} characters; this one has {len(image.alt):,}",
            ))  # fmt: skip
    return found
