"""The operator's settings as Herold runs with them: the ``[herold]`` section (Runtime), the
authorities with their channels, and the secrets their ``*_env`` keys named. Loading and checking
them is the edges' work (publisher.edges.config); here they are plain, checked data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from publisher.domain.authority import Authority

# The owner of the on-call webhook's secret: not a valid channel id, so no channel ever gets it.
ONCALL = "@oncall"
# The owner of an integration's secret or token: "@hook:<integration id>", no channel's either.
HOOK = "@hook:"


class Runtime(BaseModel):
    """The ``[herold]`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite in data_dir
    redis_url: str | None = None  # set: deliveries run on Celery workers
    listen: str = "127.0.0.1:8000"
    # The press office's web app (/app/) and the API on an address of their own: the public
    # address (listen) then serves only the site. Unset, one address serves all three.
    app_listen: str | None = None
    app_idle_minutes: float = Field(default=30, gt=0, le=24 * 60)  # a session ends this long after its last use
    app_session_hours: float = Field(default=12, gt=0, le=7 * 24)  # and this long after sign-in in any case
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    embedded_workers: int = Field(default=8, ge=1, le=64)
    grace_warning_seconds: float = Field(default=10, gt=0)
    grace_news_seconds: float = Field(default=300, gt=0)
    deadline_warning_hours: float = Field(default=2, gt=0)
    deadline_news_hours: float = Field(default=24, gt=0)
    # A warning handed to a person (a channel without a posting API) and not confirmed within
    # this tells the on-call contacts, once.
    hand_off_alarm_minutes: float = Field(default=5, gt=0)
    # A worker holds a delivery this long per attempt; if it dies, the sweep hands the delivery on
    # after that. Longer than the slowest attempt (timeouts, image uploads), or attempts overlap.
    lease_seconds: float = Field(default=60, gt=0)  # renewed every third of it while an attempt runs
    retry_base_seconds: float = Field(default=2.0, gt=0)  # first retry; doubles per attempt, up to 5 min
    sweep_seconds: float = Field(default=5.0, gt=0)  # how often `herold beat` looks for due or lost work
    # A due delivery not started within this is taken as lost with its message and queued again
    # (a duplicate is harmless, just wasted work, so not much sooner). In-process, a backlog the
    # sweep has queued is left to the pool for this long.
    requeue_after_seconds: float = Field(default=30.0, gt=0)
    # Delivery error texts and on-call alarms are deleted this long after their delivery ended
    # (data avoidance); announcements, what was published and the audit log stay.
    retention_days: float = Field(default=30, gt=0, le=3650)
    http_connect_timeout: float = Field(default=5.0, gt=0)
    http_read_timeout: float = Field(default=20.0, gt=0)
    # A whole outbound call, answer included: a server trickling its answer byte by byte is cut
    # off here (channels may set their own call_deadline_seconds).
    http_deadline_seconds: float = Field(default=60.0, gt=0, le=600)
    smtp_host: str | None = None  # for e-mail to on-call contacts
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_from: str = "herold@localhost"
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    smtp_starttls: bool = False
    templates_dir: Path | None = None

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'herold.db'}"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    herold: Runtime
    authorities: list[Authority]
    secrets: dict[str, SecretStr] = Field(default_factory=dict, repr=False)  # "slug/channel/key" -> value
    source: Path | None = None

    def authority(self, slug: str) -> Authority:
        for authority in self.authorities:
            if authority.slug == slug:
                return authority
        raise KeyError(slug)

    def secret(self, authority: str, owner: str, key: str) -> str:
        """One secret by its owner: a channel's id, or ONCALL (which no channel id can be)."""
        return self.secrets[f"{authority}/{owner}/{key}"].get_secret_value()

    def secret_values(self) -> list[str]:
        """Every configured secret's value, longest first (one containing another is hidden whole).
        Values shorter than 6 characters are left out: hiding them would hide ordinary words."""
        values = {value.get_secret_value() for value in self.secrets.values()}
        return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)

    def without_secrets(self, text: str) -> str:
        """``text`` with every configured secret's value replaced: a platform that echoes the
        token it refused must not put it into a delivery's error, the audit log or an alarm."""
        for value in self.secret_values():
            if value in text:
                text = text.replace(value, "[redacted]")
        return text

    def secrets_of(self, authority: str, owner: str) -> dict[str, str]:
        """One channel's (or the on-call webhook's) secrets, by key: its own, and no one else's."""
        prefix = f"{authority}/{owner}/"
        return {name.removeprefix(prefix): value.get_secret_value() for name, value in self.secrets.items()
                if name.startswith(prefix)}  # fmt: skip
