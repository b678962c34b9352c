"""The ``herold`` command.

Exit codes: 0 done; 1 a delivery failed or is held back, a profile text cannot fit (or Herold failed; the log says why);
2 bad input (document or config), nothing was written; 3 the database cannot be reached or
Herold is too busy, try again later.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
import structlog
import uvicorn
import yaml
from sqlalchemy.engine import make_url

from adapters.port import Channel
from publisher.core.routing import explain, route
from publisher.domain.authority import Authority
from publisher.domain.limits import LIMITS, nesting
from publisher.domain.problems import InvalidInput, Problem, Unavailable
from publisher.domain.records import AuditEntry, PrivacyOverride, Role, Stage
from publisher.domain.text import forbidden_character, json_escaped, printable
from publisher.edges import logs
from publisher.edges.config import ConfigError, Settings, load_settings
from publisher.edges.logs import scrub
from publisher.edges.privacy_texts import privacy_report, profile_texts, without_profile
from publisher.edges.web import PublicOnly, create_app
from publisher.edges.wiring import Herold, utcnow, worker_app
from publisher.engine import tasks
from publisher.engine.report import SHORT_ID, listing, report, table, waiting, waiting_table
from publisher.engine.store import database_unavailable
from publisher.engine.store.users import UserExists, password_problem, username_problem
from publisher.engine.tasks import confirm as confirm_hand_off
from publisher.engine.tasks import reconcile as settle
from publisher.engine.tasks import release_by_override, settle_deletions, wait_until_settled
from publisher.engine.worker import QUEUES
from publisher.site.website import Site
from publisher.sources.cap import CapError, parse_cap
from publisher.sources.files import FileProblem, read_regular
from publisher.sources.intake import approve as approve_draft
from publisher.sources.intake import receive
from publisher.sources.intake import submit as submit_draft
from publisher.sources.nina import parse_nina
from publisher.sources.poll import Pollers
from publisher.sources.preview import preview

BAD_INPUT = 2
FAILED = 1
UNAVAILABLE = 3

log = structlog.get_logger("herold.cli")


def _fail(headline: str, problems: list[Problem] | None = None, code: int = BAD_INPUT) -> NoReturn:
    # Problems quote what was sent: a terminal must never get a raw control character from it.
    click.echo(printable(headline), err=True)
    for problem in problems or []:
        click.echo(f"  {printable(str(problem))}", err=True)
    sys.exit(code)


class _Herold(click.Group):
    """Every command ends in one line a person can act on, never in a traceback: the database
    being away is a moment's outage (exit 3), anything else is logged in full (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`herold status | head`): what it read was all it wanted.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as error:
            if isinstance(error, Unavailable):
                _fail(f"herold: {error}; nothing was stored.", code=UNAVAILABLE)
            if database_unavailable(error):
                first = str(getattr(error, "orig", None) or error).strip().split("\n", 1)[0]
                _fail(f"herold: the database cannot be reached ({scrub(first)[:300]}); try again when it is back.",
                      code=UNAVAILABLE)  # fmt: skip
            reference = uuid.uuid4().hex[:12]
            log.exception("unhandled error", reference=reference)
            _fail(f"herold: internal error; it was logged with reference {reference}.", code=FAILED)


def _settings(ctx: click.Context) -> Settings:
    path = ctx.obj.get("config")
    try:
        settings = load_settings(Path(path) if path else None)
    except ConfigError as error:
        _fail(f"Configuration has {len(error.problems)} problem(s):", error.problems)
    logs.configure(settings.herold.log_level, settings.herold.log_format)
    logs.remember_secrets(settings.secret_values())
    return settings


@contextmanager
def _herold(ctx: click.Context, start: bool = True) -> Iterator[Any]:

    herold = Herold(_settings(ctx))
    if start:
        herold.start()
    else:
        herold.migrate()
    try:
        yield herold
    finally:
        if start:
            herold.stop()
        else:
            herold.store.dispose()


@click.group(cls=_Herold, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    envvar="HEROLD_CONFIG",
    type=click.Path(dir_okay=False),
    help="The TOML configuration (default: $HEROLD_CONFIG, ./herold.toml, ./config/herold.toml).",
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Herold publishes an authority's announcements: own website first, then everywhere else."""
    logs.configure("warning", "console")  # until the configuration says how: never a bare traceback
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Check the configuration and the channels' setup, without publishing anything."""
    settings = _settings(ctx)

    herold = Herold(settings)
    problems = []
    for authority in settings.authorities:
        checked: list[Channel | Site] = [*herold.sites(authority.slug)]
        sites = {site.id for site in checked}
        checked += [herold.channel(authority.slug, c.id) for c in authority.channels if c.id not in sites]
        for channel in checked:
            for message in channel.check():
                problems.append(Problem(field=f"{authority.slug}.{channel.id}", message=message))
    if problems:
        _fail(f"Channel setup has {len(problems)} problem(s):", problems)
    click.echo(f"Configuration OK: {settings.source}")
    for authority in settings.authorities:
        if not authority.oncall.emails and not authority.oncall.webhook_url:
            click.echo(
                f"  Note: {authority.slug} has no on-call contacts ([authorities.oncall]): failures will "
                "only be logged and shown in herold status.",
                err=True,
            )
    for authority in settings.authorities:
        channels = ", ".join(f"{c.id} ({c.type})" for c in authority.channels)
        click.echo(f"  {authority.slug}: {authority.name} <{authority.base_url}>; channels: {channels}")
    runtime = settings.herold
    click.echo(f"  database: {_safe_url(runtime.database)}")
    click.echo(f"  execution: {'Celery on ' + _safe_url(runtime.redis_url) if runtime.redis_url else 'in-process'}")


def _json_for_terminal(value: Any) -> str:
    """JSON for a terminal: readable umlauts, but every control character escaped (JSON escapes
    C0 itself; C1 and the bidirectional controls a terminal would act on, too)."""
    return json_escaped(json.dumps(value, ensure_ascii=False, indent=2))


def _safe_url(url: str) -> str:

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors and aliases: an announcement needs none, and a few hundred bytes of
    them expand to gigabytes (the "billion laughs"). Times stay text, for the announcement's
    own parser to judge: YAML's would fail on 2026-02-30 with an error of its own."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "uses an alias (*name); write the value out instead", event.start_mark
            )
        return super().compose_node(parent, index)


def read_document(path: Path) -> Any:
    """A JSON or YAML announcement file, with every way it can be wrong as a problem."""
    try:
        text = read_regular(path, LIMITS.body_bytes, streams=True).decode("utf-8")
    except FileProblem as problem:
        raise InvalidInput([Problem(field=str(path), message=str(problem))]) from None
    except UnicodeDecodeError as error:
        raise InvalidInput([Problem(field=str(path), message=f"is not UTF-8 text: {error.reason}")]) from None
    too_deep = InvalidInput(
        [Problem(field=str(path), message=f"nests deeper than {LIMITS.nesting} levels, the most Herold takes")]
    )
    try:
        document = _parse(path, text)
    except RecursionError:
        raise too_deep from None
    if nesting(document) > LIMITS.nesting:
        raise too_deep
    return document


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            return yaml.load(text, Loader=_NoAliases)  # noqa: S506 - a SafeLoader without aliases
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise InvalidInput(
                [Problem(field=str(path), message=f"is not valid YAML{where}: {getattr(error, 'problem', error)}")]
            ) from None
        except (ValueError, OverflowError) as error:  # a value a YAML constructor cannot make
            raise InvalidInput([Problem(field=str(path), message=f"is not valid YAML: {error}")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            [
                Problem(
                    field=str(path),
                    message=f"is not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}",
                )
            ]
        ) from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise InvalidInput([Problem(field=str(path), message=f"is not valid JSON: {error}")]) from None


def _text_option(_ctx: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    """An option's text: kept in the audit log and shown later, so no control characters."""
    found = forbidden_character(value) if value is not None else None
    if found:
        raise click.BadParameter(f"contains a control character ({found[1]}) at position {found[0]}; remove it")
    return value


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Block until every delivery is final, print a table, exit 1 on failure.")
@click.option("--timeout", default=3 * 3600.0, show_default=True, help="Seconds to wait at most.")
@click.option(
    "--source-id",
    callback=_text_option,
    help="This message's id (e.g. from the system it came from): given twice, it is published once.",
)
@click.option("--draft", "stage", flag_value=Stage.draft.value, help="Keep it as a draft (see: herold approve).")
@click.option(
    "--privacy-override",
    callback=_text_option,
    help="Publish although the privacy guard finds personal data, for this reason (audited with the findings).",
)
@click.option(
    "--for-approval",
    "stage",
    flag_value=Stage.awaiting_approval.value,
    help="Keep it until someone approves it (herold approve).",
)
@click.pass_context
def publish(
    ctx: click.Context, file: Path, wait: bool, timeout: float, source_id: str | None, stage: str | None,
    privacy_override: str | None,
) -> None:  # fmt: skip
    """Publish the announcement in FILE (JSON or YAML)."""

    try:
        document = read_document(file)
    except InvalidInput as error:
        _fail("Nothing was published:", error.problems)
    with _herold(ctx) as herold:
        try:
            accepted = receive(
                herold.engine, document, source="cli", source_id=source_id, actor=f"cli:{getpass.getuser()}",
                base_dir=file.resolve().parent, stage=Stage(stage or Stage.released),
                # Whoever runs the command line runs Herold: an admin.
                privacy_override=PrivacyOverride(privacy_override, Role.admin) if privacy_override else None,
            )  # fmt: skip
        except InvalidInput as error:
            _fail(f"{file}: {len(error.problems)} problem(s), nothing was published:", error.problems)
        announcement_id = accepted.id
        if not accepted.created:
            click.echo(f"Already accepted as {announcement_id} (same --source-id, same content); nothing new.")
        else:
            click.echo(f"Accepted {announcement_id}")
            for warning in accepted.warnings:  # not refused, but worth a second look
                click.echo(f"  Note: {warning}", err=True)
        _follow(herold, announcement_id, wait, timeout)


def _follow(herold: Herold, announcement_id: str, wait: bool, timeout: float) -> None:
    result = report(herold.engine, announcement_id)
    if result is not None and result.stage in {Stage.draft, Stage.awaiting_approval}:
        click.echo(f"It is {result.stage.label}; it goes out with: herold approve {announcement_id}")
        return
    if not wait and not herold.embedded:
        click.echo(f"Workers deliver it now; see: herold status {announcement_id}")
        return
    # In-process execution ends with this command, so it stays until the work is done.
    wait_until_settled(herold.engine, announcement_id, timeout)
    result = report(herold.engine, announcement_id)
    assert result is not None
    if wait:
        click.echo(table(result))
    if result.failed or result.held_back or result.status == "in progress":
        sys.exit(FAILED)


@main.command("preview")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def preview_command(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Show the text each channel would get for the announcement in FILE, counted as the platform
    counts it. Nothing is stored or sent."""

    try:
        document = read_document(file)
    except InvalidInput as error:
        _fail("Cannot preview it:", error.problems)
    with _herold(ctx, start=False) as herold:
        try:
            shown = preview(herold.engine, document, base_dir=file.resolve().parent)
        except InvalidInput as error:
            _fail(f"{file}: {len(error.problems)} problem(s):", error.problems)
    if as_json:
        click.echo(_json_for_terminal(shown.model_dump(mode="json")))
        return
    if not shown.published:
        click.echo(f"It is marked {shown.status.value}: it would be stored and never published.\n")
    for channel in shown.channels:
        count = f"{channel.length}/{channel.limit} characters" if channel.limit else "no limit"
        click.echo(f"== {channel.channel} ({channel.platform}, wave {channel.wave}): {count}"
                   + (f", shortened: {', '.join(channel.shortened)}" if channel.shortened else ""))  # fmt: skip
        if channel.problem:
            click.echo(f"   DOES NOT FIT: {channel.problem}")
            continue
        if channel.spoiler:
            click.echo(f"[{printable(channel.spoiler)}]")
        click.echo(printable(channel.text or "") + "\n")


def _resolved(herold: Herold, given: str) -> str:
    """The announcement id ``given`` stands for: a whole id, or its first characters (at least
    the 8 `herold list` shows) when they fit exactly one."""
    found = herold.store.announcements.resolve(given)
    if given.lower() in found:
        return given.lower()
    if len(given.strip()) < SHORT_ID or not found:
        _fail(f"No announcement {printable(given[:40])} (give its id, or the first {SHORT_ID} characters of it).",
              code=FAILED)  # fmt: skip
    if len(found) > 1:
        _fail(f"{printable(given[:40])} fits several announcements ({', '.join(f[:13] for f in found)}…): give more "
              "of the id.", code=FAILED)  # fmt: skip
    return found[0]


@main.command("list")
@click.option("--authority", help="Only this authority (slug); default: every one.")
@click.option("--current", is_flag=True, help="Only current warnings (each item's newest state).")
@click.option("--kind", type=click.Choice(["warning", "news"]), help="Only warnings or only news.")
@click.option("--since", help="Only what was sent since then (ISO date or time, e.g. 2026-12-01).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@click.pass_context
def list_announcements(
    ctx: click.Context, authority: str | None, current: bool, kind: str | None, since: str | None, as_json: bool
) -> None:
    """What was published, newest first, with the short ids every command accepts."""
    moment = None
    if since:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            _fail(f"--since: {printable(since[:40])} is not a date or time like 2026-12-01 or 2026-12-01T08:00.")
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    with _herold(ctx, start=False) as herold:
        slugs = [a.slug for a in _authorities(herold.settings, authority)]
        found = [(slug, row) for slug in slugs
                 for row in listing(herold.engine, slug, current=current, kind=kind, since=moment)]  # fmt: skip
        if as_json:
            click.echo(_json_for_terminal([{"authority": slug, **row.model_dump(mode="json")} for slug, row in found]))
            return
        for slug, row in found:
            state = "CURRENT" if row.current else row.stage.value
            click.echo(printable(f"{row.short_id}  {row.sent_at:%Y-%m-%d %H:%M}  {slug}  {row.kind:7}  "
                                 f"{row.msg_type:6}  {state:9}  {row.headline}"))  # fmt: skip


@main.command()
@click.argument("announcement_id")
@click.pass_context
def submit(ctx: click.Context, announcement_id: str) -> None:
    """Mark draft ANNOUNCEMENT_ID as ready: it waits for approval."""
    with _herold(ctx, start=False) as herold:
        announcement_id = _resolved(herold, announcement_id)
        problems = submit_draft(herold.engine, announcement_id, actor=f"cli:{getpass.getuser()}", source="cli")
        if problems:
            _fail("Not submitted:", [Problem(field="", message=p) for p in problems], code=FAILED)
        click.echo(f"{announcement_id} awaits approval: herold approve {announcement_id}")


@main.command()
@click.argument("announcement_id")
@click.option("--wait", is_flag=True, help="Block until every delivery is final, print a table, exit 1 on failure.")
@click.option("--timeout", default=3 * 3600.0, show_default=True, help="Seconds to wait at most.")
@click.pass_context
def approve(ctx: click.Context, announcement_id: str, wait: bool, timeout: float) -> None:
    """Let ANNOUNCEMENT_ID (a draft, or one awaiting approval) go out: now, or at its publish_at."""
    with _herold(ctx) as herold:
        announcement_id = _resolved(herold, announcement_id)
        problems = approve_draft(herold.engine, announcement_id, actor=f"cli:{getpass.getuser()}", source="cli")
        if problems:
            _fail("Not approved:", [Problem(field="", message=p) for p in problems], code=FAILED)
        click.echo(f"Approved {announcement_id}")
        _follow(herold, announcement_id, wait, timeout)


@main.command()
@click.argument("announcement_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--authority", help="Only this authority's (without ANNOUNCEMENT_ID).")
@click.pass_context
def status(ctx: click.Context, announcement_id: str | None, as_json: bool, authority: str | None) -> None:
    """Show where announcement ANNOUNCEMENT_ID stands on every channel; without it, what waits for
    a person (hand-offs to post, deliveries nobody could confirm, announcements to approve)."""

    with _herold(ctx, start=False) as herold:
        if announcement_id is None:
            items = waiting(herold.engine, authority)
            if as_json:
                click.echo(_json_for_terminal([item.model_dump(mode="json") for item in items]))
            else:
                click.echo(waiting_table(items))
            return
        result = report(herold.engine, _resolved(herold, announcement_id))
        if result is None:
            _fail(f"No announcement {announcement_id}.", code=FAILED)
        click.echo(_json_for_terminal(result.model_dump(mode="json")) if as_json else table(result))
        if result.failed or result.held_back:
            sys.exit(FAILED)


@main.command()
@click.argument("announcement_id")
@click.option(
    "--reason",
    required=True,
    callback=_text_option,
    help="Why the other channels must go out without the website page.",
)
@click.pass_context
def release(ctx: click.Context, announcement_id: str, reason: str) -> None:
    """Release a warning's other channels although its website delivery failed (recorded in the audit log)."""

    with _herold(ctx) as herold:
        announcement_id = _resolved(herold, announcement_id)
        problems = release_by_override(
            herold.engine, announcement_id, reason, actor=f"cli:{getpass.getuser()}", source="cli"
        )
        if problems:
            _fail("Not released:", [Problem(field="", message=p) for p in problems], code=FAILED)
        click.echo("Released; the other channels are delivering now.")
        if herold.embedded:
            wait_until_settled(herold.engine, announcement_id, 3 * 3600.0)


@main.command()
@click.argument("announcement_id")
@click.argument("channel")
@click.option("--url", callback=_text_option, help="It is on the platform after all: the post's address.")
@click.option("--again", is_flag=True, help="It is not there: send it again.")
@click.option("--deleted", is_flag=True, help="The posts a withdrawal could not delete there: deleted by hand.")
@click.option("--delete-again", is_flag=True, help="The posts a withdrawal could not delete there: try again.")
@click.pass_context
def reconcile(
    ctx: click.Context, announcement_id: str, channel: str, url: str | None, again: bool, deleted: bool,
    delete_again: bool,
) -> None:  # fmt: skip
    """Settle a delivery that ended unknown, failed or dead, after looking at the platform; or the
    posts a withdrawal could not delete there (all of them on CHANNEL)."""

    if [bool(url), again, deleted, delete_again].count(True) != 1:
        _fail("Say what you found: --url URL (it is there) or --again (it is not); for a withdrawal's posts "
              "that were not deleted: --deleted (deleted by hand) or --delete-again.")  # fmt: skip
    actor = f"cli:{getpass.getuser()}"
    with _herold(ctx) as herold:
        announcement_id = _resolved(herold, announcement_id)
        if deleted or delete_again:
            problems = settle_deletions(herold.engine, announcement_id, channel, deleted=deleted, actor=actor,
                                        source="cli")  # fmt: skip
        else:
            problems = settle(herold.engine, announcement_id, channel, url, actor=actor, source="cli")
        if problems:
            _fail("Not settled:", [Problem(field="", message=p) for p in problems], code=FAILED)
        click.echo(
            "Recorded as posted." if url else "Recorded as deleted by hand." if deleted
            else "Deleting again." if delete_again else "Sending it again."
        )  # fmt: skip
        if herold.embedded and (again or delete_again):
            wait_until_settled(herold.engine, announcement_id, 3 * 3600.0)


@main.command()
@click.argument("announcement_id")
@click.argument("channel")
@click.option("--url", callback=_text_option, help="The post's address, shown on the item page as a copy.")
@click.pass_context
def confirm(ctx: click.Context, announcement_id: str, channel: str, url: str | None) -> None:
    """Confirm that a person posted ANNOUNCEMENT_ID on CHANNEL by hand (a hand-off)."""

    with _herold(ctx) as herold:
        announcement_id = _resolved(herold, announcement_id)
        problems = confirm_hand_off(herold.engine, announcement_id, channel, url, actor=f"cli:{getpass.getuser()}",
                                    source="cli")  # fmt: skip
        if problems:
            _fail("Not confirmed:", [Problem(field="", message=p) for p in problems], code=FAILED)
        if url and herold.embedded:
            # This process ends now: the item page gets the address before it does.
            stored = herold.store.announcements.get(announcement_id)
            if stored is not None:
                tasks.refresh(herold.engine, tasks.refresh_key(stored))
        click.echo(f"Confirmed: {channel} is done" + (f", at {url}." if url else "."))


@main.group()
def site() -> None:
    """The built-in website."""


@site.command("build")
@click.option("--authority", help="Only this authority (slug).")
@click.pass_context
def site_build(ctx: click.Context, authority: str | None) -> None:
    """Build the whole site again from the database: its record and every page."""
    with _herold(ctx, start=False) as herold:
        for owner in herold.settings.authorities:
            if authority and owner.slug != authority:
                continue
            for site_id, written in tasks.rebuild(herold.engine, owner.slug).items():
                if written:
                    click.echo(f"{owner.slug}/{site_id}: {written} file(s) written")


def _authorities(settings: Settings, slug: str | None) -> list[Authority]:
    if slug is None:
        return list(settings.authorities)
    try:
        return [settings.authority(slug)]
    except KeyError:
        _fail(f"No authority '{slug}' in the configuration.")


@main.group()
def rules() -> None:
    """The routing rules for warning systems' messages."""


@rules.command("test")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--authority", "slug", help="The authority (slug); needed when there are several.")
@click.option("--integration", "integration_id", help="The integration the message would come from (its id).")
@click.pass_context
def rules_test(ctx: click.Context, file: Path, slug: str | None, integration_id: str | None) -> None:
    """Show what a warning system's message in FILE (CAP XML, a NINA warning's JSON, or an
    announcement) would become: each rule's answer in order, and the decision. Nothing is stored."""
    settings = _settings(ctx)
    owners = _authorities(settings, slug)
    if len(owners) != 1:
        _fail("Several authorities are configured: name one with --authority.")
    owner = owners[0]
    found = [i for i in owner.integrations if integration_id in (None, i.id)]
    if len(found) != 1:
        known = ", ".join(i.id for i in owner.integrations) or "none"
        which = f"No integration '{integration_id}'" if integration_id else "Name the integration with --integration"
        _fail(f"{which} (the authority's integrations: {known}).")
    integration = found[0]
    body = file.read_bytes()
    try:
        if integration.format == "announcement":
            document = json.loads(body)
            if not isinstance(document, dict):
                _fail(f"{file}: not an announcement (a JSON object).")
        else:
            read = parse_cap if integration.format == "cap" else parse_nina
            document = read(body, language=owner.language).document
    except (CapError, ValueError, RecursionError) as error:
        _fail(f"{file}: not a message the integration '{integration.id}' takes: {printable(str(error)[:300])}")
    for verdict in explain(owner, integration, document):
        click.echo(f"{'MATCH' if verdict.matched else 'no   '}  {printable(verdict.rule)}: {printable(verdict.why)}")
    routing = route(owner, integration, document)
    channels = ", ".join(routing.channels) if routing.channels is not None else "all of the authority's channels"
    decided = {"publish": "published at once", "draft": "kept for approval", "ignore": "ignored (recorded only)"}
    click.echo(f"\nDecision: {decided[routing.decision]}, by {printable(routing.rule)} ({printable(routing.why)})")
    if routing.decision != "ignore":
        click.echo(f"Channels: {channels}")
    if str(document.get("status", "actual")).lower() != "actual":
        click.echo(f"It is marked {document.get('status')}: it would be stored and never published.")
    if document.get("msg_type", "alert") != "alert":
        click.echo("It follows an earlier message: if Herold published that one, it follows its item, and a follow-up "
                   "of an item that went out is never ignored.")  # fmt: skip


@main.command("profile-texts")
@click.option("--authority", help="Only this authority (slug).")
@click.pass_context
def profile_texts_command(ctx: click.Context, authority: str | None) -> None:
    """Print a profile text (bio) for every account: within the platform's limit, counted as it
    counts, with the website, the feed, the Impressum and the privacy notice. Exit 1 if one
    cannot be made to fit."""

    settings = _settings(ctx)
    unfit = False
    for owner in _authorities(settings, authority):
        for text in profile_texts(owner):
            click.echo(
                f"== {owner.slug}/{text.channel} ({text.platform}, {text.field}, {text.language}): "
                f"{text.length}/{text.unit}"
            )
            if text.left_out:
                click.echo(f"   Left out for the limit: {', '.join(text.left_out)}")
            for note in text.notes:
                click.echo(f"   Note: {printable(note)}")
            if text.text is None:
                unfit = True
                click.echo("   DOES NOT FIT\n")
                continue
            click.echo(printable(text.text) + "\n")
        none = without_profile(owner)
        if none:
            click.echo(f"{owner.slug}: no profile text for {', '.join(none)} (not an account on a platform)\n")
    if unfit:
        sys.exit(FAILED)


@main.command("privacy-report")
@click.option("--authority", help="Only this authority (slug).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the Markdown to this file instead of printing it.",
)
@click.pass_context
def privacy_report_command(ctx: click.Context, authority: str | None, output: Path | None) -> None:
    """The data-protection summary as Markdown, for the records of processing activities: per
    channel what it receives, what Herold stores and how long, who else gets it."""

    settings = _settings(ctx)
    _authorities(settings, authority)  # an unknown slug ends here, with exit code 2
    markdown = privacy_report(settings, authority)
    if output is None:
        click.echo(printable(markdown), nl=False)
        return
    try:
        output.write_text(markdown, encoding="utf-8")
    except OSError as error:
        _fail(f"Cannot write {output}: {error.strerror or error}")
    click.echo(f"Wrote {output}")


def _password(stdin: bool) -> str:
    """The new password: from standard input (one line, for scripts), or asked twice."""
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        _fail(problem)
    return password


def _audit_user(herold: Herold, authority: str, action: str, username: str, **detail: object) -> None:
    herold.store.audit.append(AuditEntry(
        at=utcnow(), authority=authority, actor=f"cli:{getpass.getuser()}", source="cli", action=action,
        detail={"username": username, **detail},
    ))  # fmt: skip


@main.group()
def user() -> None:
    """People who sign in to the web app (one authority each, in one role)."""


@user.command("add")
@click.argument("username")
@click.option("--authority", required=True, help="The authority (slug) the person works for.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True,
              help="editor writes drafts; approver also approves, publishes and may override the privacy "
                   "guard; admin also manages users.")  # fmt: skip
@click.option("--alert", is_flag=True, help="May publish a warning at once, without a second person.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.pass_context
def user_add(ctx: click.Context, username: str, authority: str, role: str, alert: bool, password_stdin: bool) -> None:
    """Add a person who signs in; the password is asked for (or read with --password-stdin)."""
    name = username.lower()
    problem = username_problem(name)
    if problem:
        _fail(problem)
    with _herold(ctx, start=False) as herold:
        try:
            herold.authority(authority)
        except KeyError:
            _fail(f"No authority '{authority}' in the configuration.")
        if herold.store.users.get(name) is not None:
            _fail(f"There is a user '{name}' already (usernames are unique across authorities).")
        password = _password(password_stdin)
        try:
            herold.store.users.add(name, authority, Role(role), password, utcnow(), alert=alert)
        except UserExists:
            _fail(f"There is a user '{name}' already (usernames are unique across authorities).")
        _audit_user(herold, authority, "user.added", name, role=role, alert=alert)
        click.echo(f"Added {name} ({authority}, {role}{', alert' if alert else ''})")


@user.command("list")
@click.option("--authority", help="Only this authority (slug).")
@click.pass_context
def user_list(ctx: click.Context, authority: str | None) -> None:
    """List the people who sign in (never their passwords)."""
    with _herold(ctx, start=False) as herold:
        now = utcnow()
        for person in herold.store.users.all(authority):
            state = "disabled" if person.disabled else (
                f"locked until {person.locked_until:%Y-%m-%d %H:%M} UTC"
                if person.locked_until and person.locked_until > now else "active"
            )  # fmt: skip
            click.echo(f"{person.username}  {person.authority}  {person.role.value}"
                       f"{'  alert' if person.alert else ''}  {state}")  # fmt: skip


@user.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Stop a person from signing in (kept, with everything they did, for the record)."""
    with _herold(ctx, start=False) as herold:
        person = herold.store.users.disable(username, utcnow())
        if person is None:
            _fail(f"No user '{username.lower()}'.")
        _audit_user(herold, person.authority, "user.disabled", person.username)
        click.echo(f"Disabled {person.username}")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.pass_context
def user_passwd(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a person's password (also lifts a lock-out)."""
    with _herold(ctx, start=False) as herold:
        if herold.store.users.get(username) is None:
            _fail(f"No user '{username.lower()}'.")
        person = herold.store.users.set_password(username, _password(password_stdin), utcnow())
        assert person is not None
        _audit_user(herold, person.authority, "user.password_set", person.username)
        click.echo(f"Password set for {person.username}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--authority", required=True, help="The authority (slug) the token publishes for.")
@click.option(
    "--name",
    default="api",
    show_default=True,
    callback=_text_option,
    help="What the token is for (shown in the audit log).",
)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.editor.value,
    show_default=True,
    help="editor writes; approver also approves and may override the privacy guard; admin also manages.",
)
@click.pass_context
def token_create(ctx: click.Context, authority: str, name: str, role: str) -> None:
    """Create an API token; it is shown once and stored only as a hash."""

    if not 1 <= len(name) <= 200:
        _fail("The name must have 1 to 200 characters.")
    with _herold(ctx, start=False) as herold:
        try:
            herold.authority(authority)
        except KeyError:
            _fail(f"No authority '{authority}' in the configuration.")
        value = herold.store.tokens.create(authority, name, utcnow(), Role(role))
        herold.store.audit.append(
            AuditEntry(
                at=utcnow(),
                authority=authority,
                actor=f"cli:{getpass.getuser()}",
                source="cli",
                action="token.created",
                detail={"name": name, "role": role},
            )
        )
        click.echo(value)


@token.command("list")
@click.option("--authority", help="Only this authority (slug).")
@click.pass_context
def token_list(ctx: click.Context, authority: str | None) -> None:
    """List API tokens (never their values)."""
    with _herold(ctx, start=False) as herold:
        for row in herold.store.tokens.all(authority):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            click.echo(f"{row.id}  {row.authority}  {row.name}  {row.role}  created {row.created_at:%Y-%m-%d %H:%M}  "
                       f"{state}")  # fmt: skip


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke an API token (its id is the part after "hrd_", as `token list` shows)."""

    with _herold(ctx, start=False) as herold:
        row = herold.store.tokens.revoke(token_id.removeprefix("hrd_").split("_")[0], utcnow())
        if row is None:
            _fail(f"No token {token_id}.", code=FAILED)
        herold.store.audit.append(
            AuditEntry(
                at=utcnow(),
                authority=row.authority,
                actor=f"cli:{getpass.getuser()}",
                source="cli",
                action="token.revoked",
                detail={"name": row.name, "id": row.id},
            )
        )
        click.echo(f"Revoked {row.id} ({row.authority}, {row.name}).")


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the schema to the newest version."""
    with _herold(ctx, start=False) as herold:
        click.echo(f"Database is up to date: {_safe_url(herold.settings.herold.database)}")


@main.command()
@click.option(
    "--queue",
    type=click.Choice(["all", "site", "warnings", "news"]),
    default="all",
    show_default=True,
    help="Which queue to serve; 'all' starts one worker process per queue.",
)
@click.option("--concurrency", type=int, help="Tasks at once per queue (default: 4 site, 16 warnings, 8 news).")
@click.pass_context
def worker(ctx: click.Context, queue: str, concurrency: int | None) -> None:
    """Run deliveries on Celery (needs redis_url): the site's work, warnings and news in separate
    worker processes."""
    settings = _settings(ctx)
    if not settings.herold.redis_url:
        _fail(
            "herold worker needs herold.redis_url (or HEROLD_REDIS_URL); without it, "
            "herold serve and herold publish deliver in-process."
        )
    if queue == "all":
        _run_children(
            ctx,
            [
                ["worker", "--queue", name, *(["--concurrency", str(concurrency)] if concurrency else [])]
                for name in QUEUES
            ],
        )
        return

    Herold(settings).migrate()
    threads = concurrency or {"site": 4, "warnings": 16}.get(queue, 8)
    # A warnings worker also takes the site's work whenever it has a thread free: a set-up from
    # before the site queue existed (workers for warnings and news only) keeps publishing, and the
    # site's own worker keeps pages moving while platforms hold every warnings thread.
    queues = "warnings,site" if queue == "warnings" else queue
    worker_app(settings).worker_main([
        "--quiet",  # no banner: what a worker writes is log lines, nothing else
        "worker", "--queues", queues, "--pool", "threads", "--concurrency", str(threads),
        "--hostname", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel", settings.herold.log_level.upper(),
    ])  # fmt: skip


@main.command()
@click.pass_context
def beat(ctx: click.Context) -> None:
    """The periodic sweep on Celery (needs redis_url): due retries, waves to release, unsent
    notifications, and whatever a lost queue dropped; and the polls of warning systems' lists.
    Run exactly one."""

    settings = _settings(ctx)
    if not settings.herold.redis_url:
        _fail("herold beat needs herold.redis_url (or HEROLD_REDIS_URL); in-process, herold serve sweeps itself.")
    herold = Herold(settings)
    herold.migrate()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    overdue = timedelta(seconds=settings.herold.requeue_after_seconds)
    log.info("herold beat sweeps", every_seconds=settings.herold.sweep_seconds)
    pollers = Pollers(herold.engine)  # warning systems' lists, on their own clock
    pollers.start()
    while not stopping.wait(settings.herold.sweep_seconds):
        try:
            tasks.sweep(herold.engine, overdue=overdue)
        except Exception:
            # The database or Redis may be away for a moment; the next sweep tries again.
            structlog.get_logger("herold.beat").exception("sweep failed")
    pollers.stop()
    herold.stop()


def _run_children(ctx: click.Context, commands: list[list[str]]) -> NoReturn:
    """Start one `herold` process per command; stop all when one stops or we are told to stop."""

    config = ["--config", ctx.obj["config"]] if ctx.obj.get("config") else []
    argv = [[sys.executable, "-m", "publisher", *config, *command] for command in commands]
    children = [subprocess.Popen(args) for args in argv]  # noqa: S603 - our own executable and arguments

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    codes = [child.wait() for child in children]
    sys.exit(max(codes))


@main.command()
@click.option("--listen", help="HOST:PORT (default from config: 127.0.0.1:8000).")
@click.pass_context
def serve(ctx: click.Context, listen: str | None) -> None:
    """Serve the public site, the press office's web app (/app/) and the JSON API (and, without
    Redis, run deliveries in-process). With app_listen set, the app and the API are served on that
    address only, and the public address carries the site alone."""

    settings = _settings(ctx)
    host, _, port = (listen or settings.herold.listen).rpartition(":")
    herold = Herold(settings)
    app = create_app(herold, long_lived=True)
    quiet: dict[str, Any] = {"log_config": None, "access_log": False, "server_header": False}
    if not settings.herold.app_listen:
        log.info("herold serves the site, the app and the API", url=f"http://{host}:{port}/",
                 app=f"http://{host}:{port}/app/", api=f"http://{host}:{port}/api/v1/")  # fmt: skip
        uvicorn.run(app, host=host or "127.0.0.1", port=int(port), **quiet)
        return
    office_host, _, office_port = settings.herold.app_listen.rpartition(":")
    office = f"http://{office_host}:{office_port}"
    log.info("herold serves the site, and the app and the API on their own address", url=f"http://{host}:{port}/",
             app=f"{office}/app/", api=f"{office}/api/v1/")  # fmt: skip
    # One process, one Herold: the office's server runs its start and stop (lifespan), the public
    # one only serves.
    server = uvicorn.Server(uvicorn.Config(app, host=office_host or "127.0.0.1", port=int(office_port), **quiet))
    public = uvicorn.Server(
        uvicorn.Config(PublicOnly(app), host=host or "127.0.0.1", port=int(port), lifespan="off", **quiet)
    )

    async def both() -> None:
        serving = [asyncio.ensure_future(server.serve()), asyncio.ensure_future(public.serve())]
        await asyncio.wait(serving, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = public.should_exit = True  # one stopped (a signal, a port taken): both stop
        await asyncio.gather(*serving, return_exceptions=True)

    asyncio.run(both())


if __name__ == "__main__":
    main()
