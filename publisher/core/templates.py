"""Where the channel and site templates live.

In a checkout they are the repository's top-level ``templates/`` directory.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
