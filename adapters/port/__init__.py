"""The channel port: what a channel module in ``adapters/`` may use, and all it may use besides
the domain. See adapters.port.channel for the interface and its abilities."""

from adapters.port import signing
from adapters.port.channel import (
    ABILITIES,
    AnnouncesLimits,
    Channel,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    Deleting,
    Editing,
    HandOff,
    HandOffNote,
    Lookup,
    Mirrors,
    Pinning,
    Post,
    Threads,
    able,
)
from adapters.port.errors import (
    CredentialsError,
    DeliveryError,
    PermanentError,
    TooLong,
    TransientError,
    error_for_exception,
    error_for_status,
    retry_after,
)
from adapters.port.remote import confirm_public
from publisher.domain.capabilities import Capabilities, Idempotency, MediaRule, ServerLimits, Wave
from publisher.domain.records import Receipt

__all__ = [
    "ABILITIES",
    "AnnouncesLimits",
    "Capabilities",
    "Channel",
    "ChannelContext",
    "ChannelSettings",
    "ChannelType",
    "CredentialsError",
    "Deleting",
    "DeliveryError",
    "Editing",
    "HandOff",
    "HandOffNote",
    "Idempotency",
    "Lookup",
    "MediaRule",
    "Mirrors",
    "PermanentError",
    "Pinning",
    "Post",
    "Receipt",
    "ServerLimits",
    "Threads",
    "TooLong",
    "TransientError",
    "Wave",
    "able",
    "confirm_public",
    "error_for_exception",
    "error_for_status",
    "retry_after",
    "signing",
]
