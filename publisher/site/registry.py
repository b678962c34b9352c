"""Every channel type Herold knows: the adapters' and the built-in website's."""

from __future__ import annotations

from adapters import channel_types as adapter_types
from adapters.port import ChannelType
from publisher.site.website import Website


def channel_types() -> dict[str, type[ChannelType]]:
    """Every channel type, by its config name."""
    types: dict[str, type[ChannelType]] = {**adapter_types(), Website.type: Website}
    return dict(sorted(types.items()))


def is_site(kind: type[ChannelType]) -> bool:
    """Whether a channel type is the built-in website (published by the engine through a Site)."""
    return issubclass(kind, Website)
