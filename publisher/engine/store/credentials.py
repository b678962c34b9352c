"""What channels keep of what their platforms gave them (refreshed tokens, sessions), per
authority and channel, so that a restart or another worker uses them too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from adapters.port import Credential
from publisher.engine.schema import ChannelCredentialRow


class ChannelCredentials:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, authority: str, channel: str, key: str) -> Credential | None:
        with self.engine.begin() as connection:
            row = connection.execute(
                select(ChannelCredentialRow.value, ChannelCredentialRow.expires_at, ChannelCredentialRow.updated_at)
                .where(
                    ChannelCredentialRow.authority == authority, ChannelCredentialRow.channel == channel,
                    ChannelCredentialRow.key == key,
                )
            ).first()  # fmt: skip
        return Credential(row.value, row.expires_at, row.updated_at) if row else None

    def put(self, authority: str, channel: str, key: str, credential: Credential, now: datetime) -> None:
        """Replace what was kept under ``key`` (in one transaction: a reader sees old or new). Two
        writers at once: one of them wins, and both wrote what the platform just gave out."""
        where = (ChannelCredentialRow.authority == authority, ChannelCredentialRow.channel == channel,
                 ChannelCredentialRow.key == key)  # fmt: skip
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(ChannelCredentialRow).where(*where))
                connection.execute(insert(ChannelCredentialRow).values(
                    authority=authority, channel=channel, key=key, value=credential.value,
                    expires_at=credential.expires_at, updated_at=credential.updated_at or now,
                ))  # fmt: skip
        except IntegrityError:
            pass


class StoredCredentials:
    """One channel's view (adapters.port.Credentials): its own keys, nobody else's."""

    def __init__(self, store: ChannelCredentials, authority: str, channel: str, clock: Callable[[], datetime]) -> None:
        self._store, self._authority, self._channel, self._clock = store, authority, channel, clock

    def get(self, key: str) -> Credential | None:
        return self._store.get(self._authority, self._channel, key)

    def put(self, key: str, credential: Credential) -> None:
        self._store.put(self._authority, self._channel, key, credential, self._clock())
