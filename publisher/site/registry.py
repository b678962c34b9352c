"""Every channel type Herold knows: the adapters' and the built-in website's."""

from __future__ import annotations

from adapters import changes
from adapters import channel_types as adapter_types
from adapters.port import ChannelType
from publisher.site.website import Website

_made: dict[int, dict[str, type[ChannelType]]] = {}  # by the adapters' number of changes


def channel_types() -> dict[str, type[ChannelType]]:
    """Every channel type, by its config name (a copy of its own for each caller; the table is
    made again only when a channel type is registered, as the engine asks on every delivery)."""
    change = changes()
    known = _made.get(change)
    if known is None:
        types: dict[str, type[ChannelType]] = {**adapter_types(), Website.type: Website}
        known = dict(sorted(types.items()))
        _made.clear()
        _made[change] = known
    return dict(known)


def is_site(kind: type[ChannelType]) -> bool:
    """Whether a channel type is the built-in website (published by the engine through a Site)."""
    return issubclass(kind, Website)
