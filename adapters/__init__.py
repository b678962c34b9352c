"""Channel adapters: one module per channel type, found by looking, not by a list to maintain.
The port every channel implements is adapters.port; the built-in website is not a channel of
this package but a subsystem of its own (publisher.site).

Channel types outside this package (a plugin, a test double) join with `register`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from adapters.port import Channel

_registered: dict[str, type[Channel]] = {}


@cache
def _discovered() -> dict[str, type[Channel]]:
    found: dict[str, type[Channel]] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name == "port":
            continue
        namespace = importlib.import_module(f"{__name__}.{module.name}")
        for value in vars(namespace).values():
            if (
                isinstance(value, type)
                and issubclass(value, Channel)
                and value.__module__ == namespace.__name__
                and getattr(value, "type", None)
                and not getattr(value, "__abstractmethods__", None)
            ):
                found[value.type] = value
    return found


def channel_types() -> dict[str, type[Channel]]:
    """Every channel type, by its config name."""
    return dict(sorted({**_discovered(), **_registered}.items()))


def register(channel: type[Channel]) -> type[Channel]:
    """Make a channel type from elsewhere known by its ``type`` (usable as a class decorator)."""
    _registered[channel.type] = channel
    return channel


def unregister(type_name: str) -> None:
    _registered.pop(type_name, None)
