"""Loading and checking the operator's configuration.

One TOML file (path in ``HEROLD_CONFIG``) with a ``[herold]`` section for the service and one
``[[authorities]]`` table per authority with its ``[[authorities.channels]]``. Every key of
``[herold]`` can be overridden by an environment variable ``HEROLD_<KEY>`` (for example
``HEROLD_DATABASE_URL``). Secrets never stand in the file: a channel names the environment
variable that holds each one (keys ending in ``_env``).

Anything missing or contradictory stops Herold at start with the key that is wrong.
"""

from __future__ import annotations

import base64
import os
import tomllib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from publisher.core.routing import ring_problem
from publisher.domain.authority import Authority, ChannelConfig
from publisher.domain.capabilities import Wave
from publisher.domain.polling import poll_problems
from publisher.domain.problems import InvalidInput, Problem, from_validation_error
from publisher.edges.app.form_templates import BUILT_IN, FormTemplateError, load_form_templates
from publisher.engine.settings import HOOK, ONCALL, Runtime, Settings
from publisher.site.logo import LogoError, read_logo
from publisher.site.registry import channel_types

__all__ = ["ConfigError", "Runtime", "Settings", "config_path", "load_settings", "settings_from"]


class ConfigError(InvalidInput):
    pass


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("HEROLD_CONFIG"):
        return Path(env["HEROLD_CONFIG"])
    for candidate in (Path("herold.toml"), Path("config/herold.toml")):
        if candidate.exists():
            return candidate
    raise ConfigError(
        [
            Problem(
                field="HEROLD_CONFIG",
                message="is not set and there is no herold.toml here; "
                "copy config/herold.example.toml and point HEROLD_CONFIG at it",
            )
        ]
    )


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    path = path or config_path(env)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(field=str(path), message="does not exist")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([Problem(field=str(path), message=f"is not valid TOML: {error}")]) from None
    return settings_from(raw, env, base=path.resolve().parent, source=path)


def settings_from(raw: dict[str, Any], env: Mapping[str, str], base: Path, source: Path | None = None) -> Settings:
    problems: list[Problem] = []
    unknown = set(raw) - {"herold", "authorities"}
    problems += [Problem(field=key, message="is not a section Herold knows") for key in sorted(unknown)]

    section = raw.get("herold", {})
    if not isinstance(section, dict):
        problems.append(Problem(field="herold", message="must be a table: [herold]"))
        section = {}
    section = dict(section)
    for key in Runtime.model_fields:
        if f"HEROLD_{key.upper()}" in env:
            section[key] = env[f"HEROLD_{key.upper()}"]
    runtime = Runtime()
    try:
        runtime = Runtime.model_validate(section)
    except ValidationError as error:
        problems += from_validation_error(error, ("herold",))
    if not runtime.data_dir.is_absolute():
        runtime = runtime.model_copy(update={"data_dir": (base / runtime.data_dir).resolve()})
    if runtime.templates_dir and not runtime.templates_dir.is_absolute():
        runtime = runtime.model_copy(update={"templates_dir": (base / runtime.templates_dir).resolve()})

    authorities: list[Authority] = []
    secrets: dict[str, SecretStr] = {}
    raw_authorities = raw.get("authorities")
    if not isinstance(raw_authorities, list) or not raw_authorities:
        problems.append(Problem(field="authorities", message="configure at least one [[authorities]] table"))
        raw_authorities = []
    for number, entry in enumerate(raw_authorities):
        where = f"authorities.{number}"
        if not isinstance(entry, dict):
            problems.append(Problem(field=where, message="must be a table"))
            continue
        channels, found = _channels(entry.get("channels", []), where, env, entry.get("slug", ""), secrets)
        problems += found
        try:
            authority = Authority.model_validate({**entry, "channels": channels})
        except ValidationError as error:
            problems += [p for p in from_validation_error(error, ("authorities", number))]
            continue
        authority, found = _authority_files(authority, where, base)
        problems += found
        raw_types = [c.get("type") for c in entry.get("channels", []) if isinstance(c, dict)]
        problems += _check_authority(authority, where, env, secrets, raw_types)
        authorities.append(authority)

    problems += _check_across(authorities)
    problems += _check_smtp(runtime, authorities, env, secrets)
    if problems:
        raise ConfigError(problems)
    return Settings(herold=runtime, authorities=authorities, secrets=secrets, source=source)


def _channels(
    raw: Any, where: str, env: Mapping[str, str], slug: str, secrets: dict[str, SecretStr]
) -> tuple[list[ChannelConfig], list[Problem]]:
    if not isinstance(raw, list):
        return [], [Problem(field=f"{where}.channels", message="must be a list of [[authorities.channels]] tables")]
    types = channel_types()
    channels: list[ChannelConfig] = []
    problems: list[Problem] = []
    for number, entry in enumerate(raw):
        here = f"{where}.channels.{number}"
        if not isinstance(entry, dict):
            problems.append(Problem(field=here, message="must be a table"))
            continue
        settings = {k: v for k, v in entry.items() if k not in {"id", "type"}}
        kind = entry.get("type")
        if not entry.get("id"):
            problems.append(Problem(field=f"{here}.id", message="is required"))
            continue
        if kind not in types:
            problems.append(
                Problem(
                    field=f"{here}.type",
                    message=f"must be one of {', '.join(types)} (got {kind!r})" if kind else "is required",
                )
            )
            continue
        try:
            parsed = types[kind].Settings.model_validate(settings)
        except ValidationError as error:
            problems += from_validation_error(error, (*here.split("."),))
            continue
        if parsed.monthly_budget_usd is not None and types[kind].capabilities.price is None:
            problems.append(Problem(field=f"{here}.monthly_budget_usd", message=(
                f"{types[kind].label} charges nothing per post: a budget is only for paid platforms (X)")))  # fmt: skip
        for key, value in settings.items():
            if key.endswith("_env") and isinstance(value, str):
                secret = f"{slug}/{entry.get('id')}/{key.removesuffix('_env')}"
                problems += _secret(env, value, f"{here}.{key}", secret, secrets)
        try:
            channels.append(ChannelConfig(id=entry.get("id", ""), type=kind, settings=parsed))
        except ValidationError as error:
            problems += from_validation_error(error, (*here.split("."),))
    return channels, problems


def _check_authority(
    authority: Authority, where: str, env: Mapping[str, str], secrets: dict[str, SecretStr], raw_types: list[Any]
) -> list[Problem]:
    problems = []
    for channel_id, count in Counter(c.id for c in authority.channels).items():
        if count > 1:
            problems.append(
                Problem(field=f"{where}.channels", message=f"channel id '{channel_id}' is used {count} times")
            )
    types = channel_types()
    # Judged on the configured types, so a typo inside the website channel is reported only as itself.
    if not any(kind in types and types[kind].capabilities.wave is Wave.website for kind in raw_types):
        problems.append(
            Problem(
                field=f"{where}.channels",
                message='needs a channel for the authority\'s own website (e.g. type = "website"): '
                "every item must exist off-platform before it goes anywhere else",
            )
        )
    for number, integration in enumerate(authority.integrations):
        here = f"{where}.integrations.{number}"
        owner = f"{authority.slug}/{HOOK}{integration.id}"
        if integration.secret_env is not None and integration.token_env is not None:
            problems.append(Problem(field=here, message=(
                "give secret_env (a Standard Webhooks secret, whsec_…) or token_env (a bearer token, weaker), "
                "not both")))  # fmt: skip
        elif integration.secret_env is None and integration.token_env is None and integration.poll is None:
            problems.append(Problem(field=here, message=(
                "give secret_env (a Standard Webhooks secret, whsec_…) or token_env (a bearer token, weaker) for "
                "messages sent to Herold, or poll for Herold to fetch them")))  # fmt: skip
        if integration.poll is not None:
            found_poll = poll_problems(integration.poll, integration.format)
            problems += [Problem(field=f"{here}.poll", message=message) for message in found_poll]
        if integration.secret_env:
            found = _secret(env, integration.secret_env, f"{here}.secret_env", f"{owner}/secret", secrets)
            if not found and not _webhook_secret(env[integration.secret_env]):
                found = [Problem(field=f"{here}.secret_env", message=(
                    f"{integration.secret_env} must hold a Standard Webhooks secret: whsec_ and the base64 of at "
                    "least 24 random bytes"))]  # fmt: skip
            problems += found
        if integration.token_env:
            found = _secret(env, integration.token_env, f"{here}.token_env", f"{owner}/token", secrets)
            if not found and len(env[integration.token_env]) < 32:
                found = [Problem(field=f"{here}.token_env", message=(
                    f"{integration.token_env} must hold a token of at least 32 characters"))]  # fmt: skip
            problems += found
        unknown = [c for c in integration.channels or [] if c not in {channel.id for channel in authority.channels}]
        if unknown:
            problems.append(Problem(field=f"{here}.channels", message=f"names unknown channels: {', '.join(unknown)}"))
    for slug, count in Counter(i.id for i in authority.integrations).items():
        if count > 1:
            problems.append(Problem(field=f"{where}.integrations", message=f"id '{slug}' is used {count} times"))
    # A request signed for one integration must not pass for another (the signature does not
    # cover the address): each has a secret of its own.
    proofs = [i.secret_env or i.token_env for i in authority.integrations]
    for variable, count in Counter(proofs).items():
        if variable and count > 1:
            problems.append(Problem(field=f"{where}.integrations", message=(
                f"{variable} is named by {count} integrations: give each its own secret or token")))  # fmt: skip
    problems += _check_rules(authority, where)
    secret_env = authority.oncall.webhook_secret_env
    if authority.oncall.webhook_url and not secret_env:
        problems.append(Problem(field=f"{where}.oncall.webhook_secret_env", message="is required with webhook_url"))
    if secret_env:
        problems += _secret(env, secret_env, f"{where}.oncall.webhook_secret_env",
                            f"{authority.slug}/{ONCALL}/webhook_secret", secrets)  # fmt: skip
    return problems


def _check_rules(authority: Authority, where: str) -> list[Problem]:
    """Routing rules that name what the authority does not have, or could never decide anything."""
    problems = []
    integrations = {integration.id for integration in authority.integrations}
    channels = {channel.id for channel in authority.channels}
    catch_all: str | None = None
    for number, rule in enumerate(authority.rules):
        here = f"{where}.rules.{number}"
        if unknown := [source for source in rule.sources if source not in integrations]:
            problems.append(Problem(field=f"{here}.sources", message=(
                f"names unknown integrations: {', '.join(unknown)} (sources are integration ids)")))  # fmt: skip
        if unknown := [channel for channel in rule.channels or [] if channel not in channels]:
            problems.append(Problem(field=f"{here}.channels", message=f"names unknown channels: {', '.join(unknown)}"))
        if rule.in_authority_area is not None and authority.area is None:
            problems.append(Problem(field=f"{here}.in_authority_area", message=(
                "needs the authority's area: add [authorities.area] with its geocodes or polygons")))  # fmt: skip
        if catch_all is not None:
            problems.append(Problem(field=here, message=(
                f"can never match: the rule '{catch_all}' before it matches every warning")))  # fmt: skip
        elif rule.matches_everything:
            catch_all = rule.name
    for name, count in Counter(rule.name for rule in authority.rules).items():
        if count > 1:
            problems.append(Problem(field=f"{where}.rules", message=(
                f"the name '{name}' is used {count} times: the audit names the rule that decided")))  # fmt: skip
    for number, ring in enumerate(authority.area.polygons if authority.area else ()):
        if wrong := ring_problem(ring):
            problems.append(Problem(field=f"{where}.area.polygons.{number}", message=wrong))
    return problems


def _authority_files(authority: Authority, where: str, base: Path) -> tuple[Authority, list[Problem]]:
    """The authority's logo and form templates, relative to the config file, checked to be there:
    a logo that failed only when the site wrote it would leave the pages without it, unnoticed."""
    paths = {key: path if path.is_absolute() else (base / path).resolve()
             for key in ("logo", "form_templates") if (path := getattr(authority, key)) is not None}  # fmt: skip
    problems = []
    if (logo := paths.get("logo")) is not None and (wrong := _logo_problem(logo)):
        problems.append(Problem(field=f"{where}.logo", message=f"names {logo}, which {wrong}"))
    if (folder := paths.get("form_templates")) is not None and (wrong := _folder_problem(folder)):
        problems.append(Problem(field=f"{where}.form_templates", message=f"names {folder}, which {wrong}"))
    elif folder is not None:
        try:  # read as the web app will: a broken file stops Herold here, not the form at 3 a.m.
            load_form_templates(BUILT_IN, folder)
        except FormTemplateError as error:
            problems.append(Problem(field=f"{where}.form_templates", message=str(error)))
    return authority.model_copy(update=paths), problems


def _logo_problem(path: Path) -> str | None:
    try:
        read_logo(path)  # as the site does: what passes here is what it publishes
    except FileNotFoundError:
        return "does not exist"
    except IsADirectoryError:
        return "is a directory, not an image"
    except PermissionError:
        return "Herold may not read"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    except LogoError as error:
        return str(error)
    return None


def _folder_problem(path: Path) -> str | None:
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is not a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return "Herold may not read"
    return None


def _webhook_secret(value: str) -> bool:
    if not value.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(value.removeprefix("whsec_"), validate=True)) >= 24
    except ValueError:
        return False


def _secret(
    env: Mapping[str, str], variable: str, field: str, secret: str, secrets: dict[str, SecretStr]
) -> list[Problem]:
    """Read a secret from the environment variable a ``*_env`` key names, or say it is missing."""
    if not env.get(variable):
        return [Problem(field=field, message=f"names the environment variable {variable}, which is not set")]
    secrets[secret] = SecretStr(env[variable])
    return []


def _check_across(authorities: list[Authority]) -> list[Problem]:
    problems = []
    for slug, count in Counter(a.slug for a in authorities).items():
        if count > 1:
            problems.append(Problem(field="authorities", message=f"slug '{slug}' is used by {count} authorities"))
    seen: dict[tuple[str, str], str] = {}
    for number, authority in enumerate(authorities):
        parts = urlsplit(authority.base_url)
        key = (parts.netloc, parts.path)
        if key in seen:
            problems.append(
                Problem(
                    field=f"authorities.{number}.base_url",
                    message=f"is the same as that of '{seen[key]}': their pages would overwrite each other",
                )
            )
        seen.setdefault(key, authority.slug)
    return problems


def _check_smtp(
    runtime: Runtime, authorities: list[Authority], env: Mapping[str, str], secrets: dict[str, SecretStr]
) -> list[Problem]:
    problems = []
    for number, authority in enumerate(authorities):
        if authority.oncall.emails and not runtime.smtp_host:
            problems.append(
                Problem(
                    field="herold.smtp_host",
                    message=f"is needed to e-mail the on-call contacts of '{authority.slug}' "
                    f"(authorities.{number}.oncall.emails)",
                )
            )
    if runtime.smtp_user and not runtime.smtp_password_env:
        problems.append(Problem(field="herold.smtp_password_env", message="is needed with smtp_user"))
    if runtime.smtp_user and not runtime.smtp_starttls and runtime.smtp_host not in {"127.0.0.1", "localhost", "::1"}:
        problems.append(
            Problem(
                field="herold.smtp_starttls",
                message="must be true when logging in to a mail server elsewhere "
                "(the password would travel unencrypted)",
            )
        )
    if runtime.smtp_password_env:
        problems += _secret(env, runtime.smtp_password_env, "herold.smtp_password_env", "herold/smtp/password",
                            secrets)  # fmt: skip
    return problems
