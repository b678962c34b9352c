"""Stored announcement documents: read back once per process, and never stored unreadable."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from publisher.domain.announcement import EFFECTIVE, STORED, Announcement
from publisher.domain.problems import InvalidInput, from_validation_error
from publisher.engine.schema import AnnouncementRow

log = structlog.get_logger("herold.store")

_documents: dict[str, Announcement] = {}
_documents_lock = threading.Lock()
_reported: set[str] = set()  # unreadable announcements this process has logged already
_DOCUMENTS = select(AnnouncementRow.id, AnnouncementRow.document).where(
    AnnouncementRow.id.in_(bindparam("_ids", expanding=True))
)


class Unreadable(Exception):
    """A stored announcement that cannot be read back. Intake never stores one (it reads every
    document back before committing); should one exist anyway (a hand-edited row), it is
    reported and skipped, and never blocks other items, the lists or the site."""

    def __init__(self, announcement_id: str, reason: str) -> None:
        self.announcement_id, self.reason = announcement_id, reason
        super().__init__(f"stored announcement {announcement_id} cannot be read: {reason}")


def document(announcement_id: str, stored: Any) -> Announcement:
    """An announcement as stored (``stored``: the document, or its JSON text as the database
    holds it). Stored documents never change, so each is parsed and validated once per process;
    rendering an archive page then costs no validation at all."""
    with _documents_lock:
        cached = _documents.get(announcement_id)
    if cached is None:
        try:
            cached = Announcement.model_validate(_parsed(stored), context=STORED)
        except (ValidationError, ValueError) as error:
            reason = (
                "; ".join(str(problem) for problem in from_validation_error(error)[:3])
                if isinstance(error, ValidationError)
                else f"not JSON: {error}"
            )
            if announcement_id not in _reported:
                if len(_reported) > 10_000:
                    _reported.clear()
                _reported.add(announcement_id)
                log.error("a stored announcement cannot be read; it is skipped", announcement=announcement_id,
                          reason=reason)  # fmt: skip
            raise Unreadable(announcement_id, reason) from None
        with _documents_lock:
            if len(_documents) > 20_000:
                _documents.clear()
            _documents[announcement_id] = cached
    return cached


def _parsed(stored: Any) -> Any:
    """JSON text parsed as the database driver's JSON type would have (json.loads)."""
    return json.loads(stored) if isinstance(stored, str | bytes) else stored


def cached(announcement_id: str) -> Announcement | None:
    with _documents_lock:
        return _documents.get(announcement_id)


def forget(announcement_id: str) -> None:
    """Read this document from the database again next time (after it changed there)."""
    with _documents_lock:
        _documents.pop(announcement_id, None)


def documents(
    connection: Session | Connection, ids: Sequence[str], *, skip_unreadable: bool = False
) -> dict[str, Announcement]:
    """Announcements by id: from the cache, reading the database only for the rest. With
    ``skip_unreadable``, one that cannot be read is left out (lists, pages) instead of raising."""
    with _documents_lock:
        found = {i: _documents[i] for i in ids if i in _documents}
    missing = [i for i in ids if i not in found]
    if missing:
        for row in connection.execute(_DOCUMENTS, {"_ids": missing}):
            try:
                found[row.id] = document(row.id, row.document)
            except Unreadable:
                if not skip_unreadable:
                    raise
    return found


def readable(announcement: Announcement) -> dict[str, Any]:
    """The document to store for an announcement, read back as every later reader will read it,
    and holding to every rule between its fields: what does not is refused here, before anything
    is stored (text it keeps from its original is not judged again)."""
    return read_back(announcement)[0]


def read_back(announcement: Announcement) -> tuple[dict[str, Any], Announcement]:
    """`readable`, with the announcement as read back from it: what `document` would make of the
    stored document (the rules between fields only judge, they change nothing), to `remember`."""
    stored = announcement.model_dump(mode="json", exclude_none=True)
    try:
        parsed = Announcement.model_validate(stored, context=EFFECTIVE)
    except ValidationError as error:
        raise InvalidInput(from_validation_error(error)) from None
    return stored, parsed


def remember(announcement_id: str, announcement: Announcement) -> None:
    """Keep a document just stored (once its transaction committed) as if read back already: the
    engine's first look at a new announcement then needs no reading and no validating."""
    with _documents_lock:
        if len(_documents) > 20_000:
            _documents.clear()
        _documents[announcement_id] = announcement
