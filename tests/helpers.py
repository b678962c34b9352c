"""Helpers every kind of test uses: waiting for a condition, and small images."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable

from PIL import Image


def eventually(condition: Callable[[], bool], timeout: float = 15.0, poll: float = 0.05) -> bool:
    """Poll until the condition holds (bounded); the answer, not the time taken, is what is tested."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()


def png_bytes(width: int = 8, height: int = 6, colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def png(width: int = 8, height: int = 6, colour: str = "red") -> str:
    """A small PNG as base64, as an announcement's ``media.data`` carries it."""
    return base64.b64encode(png_bytes(width, height, colour)).decode()
