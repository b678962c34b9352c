"""Channel adapters: one module per channel type, found by looking, not by a list to maintain.
The port every channel implements is adapters.port; the built-in website is not a channel of
this package but a subsystem of its own (publisher.site).

Channel types outside this package (a plugin, a test double) join with `register`.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
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


# The sorted table, made once and again only when `register` changes it (the engine asks for it
# about fifteen times per delivery), with the number of that change: tables made from this one
# (publisher.site.registry) know by it when theirs is out of date.
_sorted: dict[int, dict[str, type[Channel]]] = {}
_changes = [0]
_lock = threading.Lock()


def channel_types() -> dict[str, type[Channel]]:
    """Every channel type, by its config name (a copy of its own for each caller)."""
    return dict(_table())


def changes() -> int:
    """How often `register` and `unregister` have changed the channel types."""
    return _changes[0]


def _table() -> dict[str, type[Channel]]:
    discovered = _discovered()  # imports the adapters: outside the lock
    with _lock:
        change = _changes[0]
        if change not in _sorted:
            _sorted.clear()
            _sorted[change] = dict(sorted({**discovered, **_registered}.items()))
        return _sorted[change]


def register(channel: type[Channel]) -> type[Channel]:
    """Make a channel type from elsewhere known by its ``type`` (usable as a class decorator)."""
    with _lock:
        _registered[channel.type] = channel
        _changes[0] += 1
    return channel


def unregister(type_name: str) -> None:
    with _lock:
        _registered.pop(type_name, None)
        _changes[0] += 1
