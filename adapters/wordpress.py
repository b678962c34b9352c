"""WordPress: the item as one post on the authority's WordPress site, through the REST API.

A website of wave 1, beside or instead of the built-in one: the alert becomes a post (in the
configured category), and every follow-up (update, all-clear, correction, withdrawal) edits
that same post, newest message on top and the earlier ones kept below as the item's history.
It logs in as a WordPress user with an application password (WordPress 5.6 and later: Users →
Profile → Application Passwords), sent as HTTP Basic authentication over https.

Each message is one section of the post, marked with the item's and the announcement's ids
(an HTML comment, and the section's ``id`` and ``data-`` attributes for caches that strip
comments): a retry never adds a message twice, and after an answer that never came the post is
found again by its slug or by the item's id (``find``) instead of being written twice.

The off-platform guarantee for a website Herold does not serve: a post counts as published only
once its public page answers 200 and shows this message (adapters.port.remote). Until then the
delivery is retried, its status says what it waits for, and no later wave starts.

Without the built-in website the posts are the item's page that every other post links to, so
the post must land exactly at ``base_url`` + the item's path: WordPress's permalinks set to
``/%year%/%monthnum%/%postname%/`` and the authority's ``base_url`` the WordPress address. The
post takes the item's slug and a date in the item's month; a post that lands elsewhere fails
the delivery with what to change (and goes to the trash, so the slug is free again).

Send-only: besides its own posts Herold asks WordPress only who it is logged in as
(``/users/me``) and whether the category exists; never comments, other users or statistics.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import requests
import structlog
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from pydantic import Field, field_validator

from adapters.port import (
    Capabilities,
    Channel,
    ChannelSettings,
    CredentialsError,
    DeliveryError,
    Idempotency,
    PermanentError,
    Post,
    Receipt,
    TransientError,
    Wave,
    confirm_public,
    error_for_exception,
    error_for_status,
)
from adapters.port.http import environment_for, loopback, session
from publisher.domain.authority import web_address
from publisher.domain.labels import labels_for, primary

log = structlog.get_logger("herold.wordpress")

API = "wp-json/wp/v2"
PERMALINKS = "/%year%/%monthnum%/%postname%/"
# A post dated a moment ahead of WordPress's clock would be scheduled, not published.
CLOCK_SKEW = timedelta(minutes=1)
LOOK_UP = 20  # posts asked for per look-up: the item's slug or id matches one, rarely a few
REASON_CHARACTERS = 300  # of WordPress's own message, kept in the delivery's last error
# Answers of a WordPress that did not see the login at all (no Authorization header reached PHP).
NOT_LOGGED_IN = {"rest_cannot_create", "rest_cannot_edit", "rest_not_logged_in", "rest_forbidden",
                 "rest_forbidden_context", "rest_forbidden_status"}  # fmt: skip
_ITEM_MONTH = re.compile(r"/(\d{4})/(\d{2})/[^/]+/?$")
_TAG = re.compile(r"<[^>]+>")
_PARAGRAPHS = re.compile(r"\n\s*\n")


class WordPressSettings(ChannelSettings):
    url: str  # the site's address (WordPress: Settings → General → Site Address), https
    username: str = Field(min_length=1)  # the WordPress user posts are made as (Author or Editor)
    application_password_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    category: int | None = Field(default=None, gt=0)  # the category's id (Posts → Categories)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return web_address(value).rstrip("/") + "/"


class WordPress(Channel):
    type = "wordpress"
    label = "WordPress"
    capabilities = Capabilities(
        wave=Wave.website,
        text=None,  # a post takes any length
        template="channels/wordpress.j2",
        link_in_text=False,  # the post is itself a page of the authority's website
        threads=True,  # follow-ups go into the item's one post
        edit=True,  # corrections and withdrawals too
        idempotency=Idempotency.lookup,
    )
    Settings = WordPressSettings
    settings: WordPressSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api = urljoin(self.settings.url, API)
        self.http = environment_for(session(self.deadline), self.settings.url)

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, post: Post) -> Receipt:
        if post.announcement.is_follow_up:
            # No earlier message of the item went out here, or the engine would ask for a reply;
            # yet an attempt that failed after writing may have left the item's post.
            found = self._look_up(post)
            if found is not None:
                return self._add(found, post)
        created = self._api("POST", "/posts", body=self._new(post))
        if not isinstance(created, dict) or "id" not in created:
            # A plugin or a proxy mangled the answer: the post may exist; the next attempt looks.
            raise TransientError("WordPress answered the new post with something else than a post", ambiguous=True)
        try:
            return self._published(created, post)
        except PermanentError:
            self._trash(created)  # at the wrong address: out of the way, so the slug is free again
            raise

    def reply(self, post: Post) -> Receipt:
        """A follow-up: on top of the item's post, the earlier messages below."""
        found = self._item_post(post)
        return self.publish(post) if found is None else self._add(found, post)

    def edit(self, receipt: Receipt, post: Post) -> Receipt:
        """A correction or withdrawal: on top of the post it concerns, like any follow-up."""
        return self._add(self._post_by_id(receipt.platform_id), post)

    def find(self, post: Post) -> Receipt | None:
        """The post an ambiguous attempt wrote this message to, if it did."""
        found = self._item_post(post)
        raw = _raw(found) if found is not None else None
        if found is None or raw is None or _marker(post) not in raw:
            return None
        return self._published(found, post)

    def _add(self, found: Mapping[str, Any], post: Post) -> Receipt:
        raw = _raw(found)
        if raw is None:
            raise PermanentError(
                f"WordPress does not show the source of post {found.get('id')} (content.raw) to the user "
                f"{self.settings.username}: it needs the right to edit it (the Editor role, or Author of the post)"
            )
        if _marker(post) not in raw:  # not there yet: a retry never adds the same message twice
            heading, section = self._section(post)
            found = self._api(
                "POST", f"/posts/{found['id']}", body={"title": heading, "content": f"{section}\n\n{raw}"}
            )
        return self._published(found, post)

    def _published(self, written: Mapping[str, Any], post: Post) -> Receipt:
        """The receipt once the post's public page shows the message (see the module docstring)."""
        link = self._link(written)
        if self.context.site is None and post.item_url and link.rstrip("/") != post.item_url.rstrip("/"):
            raise PermanentError(
                f"WordPress published the post at {link}, but every other channel links to {post.item_url}: "
                f"set WordPress's permalinks (Settings → Permalinks) to \"{PERMALINKS}\" and the authority's "
                f"base_url to the WordPress address ({self.settings.url})"
            )
        try:
            confirm_public(self.http, link, post.item_id, post.announcement_id, deadline=self.deadline)
        except TransientError as waiting:
            # The post is written; only its page is awaited. Ambiguous, so that the next attempt
            # looks for the post (find) instead of writing it again.
            raise TransientError(waiting.reason, retry_after=waiting.retry_after, ambiguous=True) from None
        return Receipt(platform_id=str(written["id"]), url=link)

    def _trash(self, written: Mapping[str, Any]) -> None:
        try:
            self._api("DELETE", f"/posts/{written['id']}")
        except DeliveryError as error:
            log.warning("could not move the misplaced post to the trash", channel=self.id, post=written.get("id"),
                        reason=error.reason)  # fmt: skip

    # -- what is sent --------------------------------------------------------------------------

    def _new(self, post: Post) -> dict[str, Any]:
        heading, section = self._section(post)
        body: dict[str, Any] = {"title": heading, "content": section, "status": "publish", "date_gmt": self._date(post)}
        slug = _slug(post)
        if slug:
            body["slug"] = slug
        if self.settings.category:
            body["categories"] = [self.settings.category]
        return body

    def _section(self, post: Post) -> tuple[str, str]:
        """The message's heading (the post's title while it is the newest, as HTML) and its section: the
        variant's text as escaped HTML, the time it went out, and the marker with both ids. A
        Custom HTML block, so that WordPress's editor keeps it as it is."""
        heading, _, rest = post.variant.text.strip().partition("\n")
        language = post.variant.language
        sent = self.context.clock().astimezone(ZoneInfo(self.authority.timezone))
        announcement = post.announcement
        kind = "correction" if announcement.correction else announcement.msg_type.value
        item, message = html.escape(post.item_id), html.escape(post.announcement_id)
        paragraphs = [part.strip() for part in _PARAGRAPHS.split(rest) if part.strip()]
        lines = [
            "<!-- wp:html -->",
            f"<!-- {_marker(post)} -->",
            f'<section class="herold-message herold-{kind}" id="herold-{message}" data-herold-item="{item}" '
            f'data-herold-announcement="{message}" lang="{html.escape(language)}">',
            f"<h2>{html.escape(heading.strip())}</h2>",
            f'<p class="herold-sent">{html.escape(labels_for(language)("sent"))}: '
            f'<time datetime="{sent.isoformat(timespec="seconds")}">{html.escape(_when(sent, language))}</time></p>',
            *("<p>" + "<br>\n".join(html.escape(line) for line in part.splitlines()) + "</p>" for part in paragraphs),
            "</section>",
            "<!-- /herold -->",
            "<!-- /wp:html -->",
        ]
        # The title escaped too: WordPress keeps an editor's title as HTML, and headlines may come
        # verbatim from a warning system.
        return html.escape(heading.strip(), quote=False), "\n".join(lines)

    def _date(self, post: Post) -> str:
        """The post's date in UTC (``date_gmt``: a bare local time is read in the *site's* time
        zone, and a site on UTC would schedule a Berlin post for an hour later instead of
        publishing it): now, a little back for clocks that differ, but never after the item's
        month in the authority's time, whose number is in the item's address (an item made on the
        31st and published on the 1st must still land at .../<its month>/<slug>/)."""
        zone = ZoneInfo(self.authority.timezone)
        now = self.context.clock().astimezone(zone) - CLOCK_SKEW
        month = _ITEM_MONTH.search(urlsplit(post.item_url or post.variant.link).path)
        if month:
            year, number = int(month[1]), int(month[2])
            if 1 <= number <= 12 and (now.year, now.month) > (year, number):
                now = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone) - timedelta(seconds=1)
        return now.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")

    # -- finding the item's post ---------------------------------------------------------------

    def _item_post(self, post: Post) -> dict[str, Any] | None:
        """The item's post: the one its earlier messages went to, else looked up."""
        known = post.thread[0] if post.thread else post.in_reply_to
        return self._post_by_id(known.platform_id) if known is not None else self._look_up(post)

    def _post_by_id(self, post_id: str) -> dict[str, Any]:
        response = self._call("GET", f"/posts/{post_id}", params={"context": "edit"})
        if response.status_code in {404, 410}:
            raise PermanentError(
                f"the item's WordPress post {post_id} no longer exists (deleted by a person?): its messages have "
                "nowhere to go; settle this delivery by hand (herold reconcile)"
            )
        found = self._answer(response)
        if not isinstance(found, dict) or "id" not in found:
            raise PermanentError(f"WordPress answered the request for post {post_id} with something else than a post")
        if found.get("status") == "trash":
            raise PermanentError(
                f"the item's WordPress post {post_id} is in the trash (moved there by a person): restore it "
                "(Posts → Trash → Restore), then retry"
            )
        return found

    def _look_up(self, post: Post) -> dict[str, Any] | None:
        """The item's post by its slug, else by the item's id in its text (the slug may have had
        to change); any status but the trash, so that a scheduled one is found too."""
        wanted = f"herold:item={post.item_id} "
        slug = _slug(post)
        queries = [{"slug": slug}] if slug else []
        for query in [*queries, {"search": post.item_id}]:
            params = {**query, "status": "any", "context": "edit", "per_page": str(LOOK_UP)}
            found = self._api("GET", "/posts", params=params)
            if not isinstance(found, list):
                raise PermanentError("WordPress answered the look-up of the item's post with no list of posts")
            for candidate in found:
                raw = _raw(candidate) if isinstance(candidate, dict) else None
                if raw is not None and wanted in raw:
                    return dict(candidate)
        return None

    def _link(self, written: Mapping[str, Any]) -> str:
        # WordPress sends the permalink in full; "relative URL" plugins make it relative to the site.
        link = written.get("link")
        return urljoin(self.settings.url, link if isinstance(link, str) and link else f"?p={written['id']}")

    # -- the setup check -------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Login, role and category, asked without publishing anything."""
        problems = []
        parts = urlsplit(self.settings.url)
        if parts.scheme == "http" and not loopback(parts.hostname):
            problems.append(
                f"url {self.settings.url} is plain http: WordPress takes application passwords only over https, "
                "and the password would travel readable; use https"
            )
        if not self.context.secrets.get("application_password"):
            return [*problems, f"the application password ({self.settings.application_password_env}) is not set"]
        try:
            me = self._api("GET", "/users/me", params={"context": "edit"})
        except DeliveryError as error:
            return [*problems, error.reason]
        capabilities = me.get("capabilities") if isinstance(me, dict) else None
        if isinstance(capabilities, dict) and not capabilities.get("publish_posts"):
            problems.append(
                f"the WordPress user {self.settings.username} may not publish posts: give it the Author or Editor role"
            )
        if self.settings.category:
            response = None
            try:
                response = self._call("GET", f"/categories/{self.settings.category}")
            except DeliveryError as error:
                problems.append(error.reason)
            if response is not None and response.status_code == 404:
                problems.append(f"WordPress has no category with the id {self.settings.category} (Posts → Categories)")
            elif response is not None and response.status_code != 200:
                problems.append(self._refused(response).reason)
        return problems

    # -- HTTP ------------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> requests.Response:
        password = self.context.secrets["application_password"]
        try:
            with self.http.request(
                method,
                self.api + path,
                params=params,
                json=body,
                auth=(self.settings.username, password),  # per call: never on the public page's request
                timeout=self.context.timeouts,
                allow_redirects=False,  # a redirected POST arrives as a GET, and the password goes along
            ) as response:
                return response
        except requests.RequestException as error:
            raise error_for_exception(error) from None

    def _api(self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None) -> Any:
        return self._answer(self._call(method, path, params=params, body=body))

    def _answer(self, response: requests.Response) -> Any:
        if response.status_code not in {200, 201}:
            raise self._refused(response)
        text = response.text
        try:
            return json.loads(text)
        except ValueError:
            pass
        # A PHP notice printed before the JSON is common on WordPress sites: read past it.
        starts = [at for at in (text.find("{"), text.find("[")) if at >= 0]
        try:
            return json.JSONDecoder().raw_decode(text, min(starts))[0] if starts else json.loads(text)
        except ValueError:
            raise PermanentError(
                f"{self.settings.url} answered {response.status_code} without JSON: is url the WordPress site?"
            ) from None

    def _refused(self, response: requests.Response) -> DeliveryError:
        """WordPress's error answer ``{"code": "rest_…", "message": …, "data": {"status": …}}`` as the
        engine's: retry, stop, or stop and flag the login."""
        status = response.status_code
        code, message, params = _error_of(response)
        said = self._scrub(f"{code}: {message}" if code and message else message or code or response.reason or "")
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            return PermanentError(
                f"WordPress redirects its REST API ({status}{' to ' + where if where else ''}): set url to the "
                "address WordPress answers at"
            )
        if status in {401, 403}:
            if status == 401 and code in NOT_LOGGED_IN:
                hint = (
                    " (WordPress did not see the login: if the application password is right, the web server "
                    "may not pass the Authorization header on to WordPress)"
                )
            elif status == 403:
                hint = " (the user needs the Author or Editor role)"
            else:
                hint = ""
            return CredentialsError(f"WordPress refused the user {self.settings.username} ({status}): {said}{hint}")
        if status == 400 and code == "rest_invalid_param":
            named = "; ".join(self._scrub(f"{name}: {_plain(str(why))}") for name, why in params.items())
            return PermanentError(f"WordPress refused a value ({said}){': ' + named if named else ''}")
        if status == 404 and code == "rest_no_route":
            return PermanentError(
                f"no WordPress REST API at {self.api} ({said}): is url the WordPress site's address, and the "
                "REST API not switched off by a plugin?"
            )
        return error_for_status(status, f"WordPress: {said}" if said else "", response.headers)

    def _scrub(self, text: str) -> str:
        """Text that may be shown and logged: never the password, however WordPress echoed it."""
        password = self.context.secrets.get("application_password", "")
        for secret in {password, password.replace(" ", "")} - {""}:
            text = text.replace(secret, "[password]")
        return text


def _marker(post: Post) -> str:
    return f"herold:item={post.item_id} announcement={post.announcement_id}"


def _raw(found: Mapping[str, Any]) -> str | None:
    """The post's content as stored (``context=edit``), not as its theme renders it."""
    content = found.get("content")
    raw = content.get("raw") if isinstance(content, dict) else None
    return raw if isinstance(raw, str) else None


def _slug(post: Post) -> str:
    """The last part of the item's address, so that the post lands where every post links to."""
    return urlsplit(post.item_url or post.variant.link).path.rstrip("/").rpartition("/")[2]


def _when(moment: datetime, language: str) -> str:
    try:
        locale = str(Locale.parse(primary(language)))
    except (UnknownLocaleError, ValueError):
        locale = "en"
    day = format_date(moment, "long", locale=locale)
    return f"{day}, {format_time(moment, 'short', tzinfo=moment.tzinfo, locale=locale)}"


def _error_of(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
    """WordPress's error code, message and the parameters it names, as far as the body says."""
    try:
        body = response.json()
    except ValueError:
        return "", "", {}
    if not isinstance(body, dict):
        return "", "", {}
    data = body.get("data")
    params = data.get("params") if isinstance(data, dict) else None
    return (
        _plain(str(body.get("code") or "")),
        _plain(str(body.get("message") or "")),
        (params if isinstance(params, dict) else {}),
    )


def _plain(text: str) -> str:
    """A message as text, short: WordPress puts HTML into some ("<strong>Error:</strong> …")."""
    text = " ".join(html.unescape(_TAG.sub("", text)).split())
    return text if len(text) <= REASON_CHARACTERS else text[: REASON_CHARACTERS - 1] + "…"
