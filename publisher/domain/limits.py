"""How much Herold accepts, as data: checked at the door, named in every refusal.

Each limit is far above what a real announcement needs and far below what would let one
request take the server's memory or time. The announcement model, the API and the command
line read them from here, so a refusal always names the number that applies.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    # A request body or a document file: four images of 8 MiB, base64-encoded, and the text.
    body_bytes: int = 48_000_000
    # Objects and lists inside objects and lists: an announcement needs five (area.polygons).
    nesting: int = 16
    # Lists, objects and the values in them (brackets and commas, counted before parsing): an
    # announcement with 20,000 polygon points has about 60,000.
    elements: int = 200_000
    media: int = 4
    image_bytes: int = 8 * 1024 * 1024
    # 4096 × 4096: a phone camera's photo, and more than any platform shows. Decoded, that is at
    # most 64 MiB (four bytes a pixel), checked before decoding. Larger JPEGs are decoded scaled
    # down (cheap); other formats must be scaled down before.
    image_pixels: int = 4096 * 4096
    polygons: int = 100
    polygon_points: int = 20_000  # in all polygons together; a district's border has a few thousand
    geocodes: int = 1_000
    hashtags: int = 10
    translations: int = 20
    channels: int = 100
    # Every time an announcement carries: a typo such as 9999 or 0026 is refused, not stored.
    earliest_year: int = 2000
    latest_year: int = 2099
    schedule_days: int = 366  # publish_at at most this far ahead


LIMITS = Limits()


def nesting(value: object, limit: int = LIMITS.nesting) -> int:
    """How deeply lists and objects nest in ``value``, counting no further than ``limit + 1``
    (so a hostile document costs no more than a legal one)."""
    if not isinstance(value, dict | list | tuple):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        children = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return deepest
