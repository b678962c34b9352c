"""Where the channel and site templates live.

In a checkout (and an editable install of it) they are the repository's top-level ``templates/``
directory. A wheel carries that directory as ``publisher/_templates/`` (pyproject.toml maps it),
because an installed package has no repository around it. The installed place is looked at
first: beside an installed ``publisher`` there is site-packages, where some other distribution's
``templates/`` could lie.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # publisher/
_INSTALLED = _PACKAGE / "_templates"
_CHECKOUT = _PACKAGE.parent / "templates"

TEMPLATES = _INSTALLED if _INSTALLED.is_dir() else _CHECKOUT
