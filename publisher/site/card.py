"""The accessible alert card: one announcement as an image, for image-first platforms.

(Being written: see issue "Platforms". ``card_name`` is the contract between the site, which
publishes the card beside the item's page, and the engine, which hands its address to channels.)
"""

from __future__ import annotations


def card_name(announcement_id: str) -> str:
    """The card's file name in the item's directory: one per message of the item (an update's
    card says what the update says)."""
    return f"karte-{announcement_id}.png"
