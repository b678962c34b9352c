"""The press office's form templates ("Vorlagen"): a new announcement starts from one.

Seven come with Herold; an authority's own directory replaces some and adds others. Every
skeleton, placeholders and all, passes the announcement's rules, so that a template never starts
a form that can only fail; a template file with a mistake is refused when it is loaded, naming
the file and the key.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from publisher.domain.announcement import Announcement, Kind, parse_announcement
from publisher.edges.app.form_templates import (
    BUILT_IN,
    FIELD_PATHS,
    FormTemplate,
    FormTemplateError,
    load_form_templates,
    prefill,
)

from conftest import ROOT

WARNINGS = ("bombe", "unwetter", "brand", "hochwasser", "verkehr")
NEWS = ("oeffnungszeiten", "allgemein")
NOW = datetime(2025, 3, 14, 9, 41, 27, 123456, tzinfo=timezone(timedelta(hours=1)))

BOMBE = """
title = "Bombenentschärfung (Stadt Beispiel)"
title_en = "Bomb disposal (Beispiel)"
order = 5

[fields]
kind = "warning"
event = "Bombenentschärfung"
category = "safety"
severity = "extreme"
headline = "Fliegerbombe in [Ortsteil]"
"""

SCHULE = """
title = "Schulausfall"
title_en = "Schools closed"
order = 65

[fields]
kind = "news"
headline = "Unterricht fällt am [Datum] aus"
description = "[Welche Schulen, warum, Notbetreuung]"
"""


def built_in() -> dict[str, FormTemplate]:
    return {template.name: template for template in load_form_templates(BUILT_IN)}


def document(fields: dict[str, str | list[str]]) -> dict[str, Any]:
    """The announcement document the form's fields make (dotted paths are nested fields)."""
    result: dict[str, Any] = {"authority": "x"}
    for path, value in fields.items():
        *parents, last = path.split(".")
        place = result
        for parent in parents:
            place = place.setdefault(parent, {})
        place[last] = value
    return result


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str, name: str = "vorlage.toml") -> FormTemplateError:
    path = write(tmp_path / "forms", name, text)
    with pytest.raises(FormTemplateError) as caught:
        load_form_templates(BUILT_IN, path.parent)
    assert caught.value.path == path
    assert path.name in str(caught.value)
    return caught.value


# --- the built-in templates ---------------------------------------------------------------------


def test_seven_templates_come_with_herold_in_the_choosers_order() -> None:
    assert [t.name for t in load_form_templates()] == [
        "bombe",
        "unwetter",
        "brand",
        "hochwasser",
        "verkehr",
        "oeffnungszeiten",
        "allgemein",
    ]
    assert load_form_templates() == load_form_templates(BUILT_IN)
    assert BUILT_IN == ROOT / "templates" / "app" / "forms"  # the wheel carries it as publisher/_templates/


@pytest.mark.parametrize(
    ("name", "title", "title_en", "kind"),
    [
        ("bombe", "Bombenentschärfung / Evakuierung", "Bomb disposal / evacuation", Kind.warning),
        ("unwetter", "Unwetter", "Severe weather", Kind.warning),
        ("brand", "Brand / Rauchentwicklung", "Fire / smoke", Kind.warning),
        ("hochwasser", "Hochwasser", "Flood", Kind.warning),
        ("verkehr", "Verkehrssperrung", "Road closure", Kind.warning),
        ("oeffnungszeiten", "Öffnungszeiten", "Opening hours", Kind.news),
        ("allgemein", "Allgemeine Meldung", "General announcement", Kind.news),
    ],
)
def test_each_built_in_template_has_its_titles_and_kind(name: str, title: str, title_en: str, kind: Kind) -> None:
    template = built_in()[name]
    assert (template.title, template.title_en, template.fields["kind"]) == (title, title_en, kind.value)


@pytest.mark.parametrize("name", WARNINGS + NEWS)
def test_a_skeleton_with_its_placeholders_left_in_is_a_valid_announcement(name: str) -> None:
    # So the form starts from something the model accepts: only the placeholders need replacing.
    fields = prefill(built_in()[name], NOW)
    announcement = parse_announcement(document(fields))
    assert announcement.headline == fields["headline"]
    assert "[" in announcement.headline and "[" in announcement.description


@pytest.mark.parametrize("name", WARNINGS)
def test_a_warning_template_fills_everything_a_warning_needs(name: str) -> None:
    fields = built_in()[name].fields
    for needed in ("event", "category", "severity", "urgency", "certainty", "instruction", "area.description"):
        assert fields.get(needed), f"{name}: {needed}"
    assert built_in()[name].expires_hours


@pytest.mark.parametrize("name", WARNINGS + NEWS)
def test_skeletons_leave_phone_numbers_to_the_authority(name: str) -> None:
    # A number written into a skeleton would be published by whoever forgets to replace it.
    for path, value in built_in()[name].fields.items():
        for text in [value] if isinstance(value, str) else value:
            assert not re.search(r"\d[\d /-]{4,}\d", text), f"{name}: {path} carries a number: {text!r}"


def test_every_field_path_a_template_may_fill_is_a_field_of_the_announcement() -> None:
    for path in FIELD_PATHS:
        assert path.split(".")[0] in Announcement.model_fields, path


# --- prefill ------------------------------------------------------------------------------------


def test_prefill_gives_the_fields_and_the_expiry_that_many_hours_from_now_to_the_minute() -> None:
    template = built_in()["bombe"]
    assert template.expires_hours == 12
    values = prefill(template, NOW)
    assert values.pop("expires") == "2025-03-14T21:41:00+01:00"
    assert values == template.fields


def test_prefill_without_expiry_leaves_expires_out() -> None:
    assert "expires" not in prefill(built_in()["allgemein"], NOW)


def test_prefill_gives_the_form_its_own_lists_to_change() -> None:
    template = built_in()["bombe"]
    hashtags = prefill(template, NOW)["hashtags"]
    assert isinstance(hashtags, list)
    hashtags.append("Altstadt")
    assert template.fields["hashtags"] == ["Bombenentschärfung", "Evakuierung"]


def test_prefill_needs_a_time_with_its_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        prefill(built_in()["bombe"], datetime(2025, 3, 14, 9, 41))


# --- an authority's own templates ---------------------------------------------------------------


def test_an_authoritys_file_replaces_the_built_in_one_of_that_name_and_adds_the_others(tmp_path: Path) -> None:
    own = tmp_path / "forms"
    write(own, "bombe.toml", BOMBE)
    write(own, "schule.toml", SCHULE)
    templates = load_form_templates(BUILT_IN, own)
    names = [t.name for t in templates]
    assert names == ["bombe", "unwetter", "brand", "hochwasser", "verkehr", "oeffnungszeiten", "schule", "allgemein"]
    bombe = templates[0]
    assert bombe.title == "Bombenentschärfung (Stadt Beispiel)"
    # Replaced whole: nothing of the built-in file's fields is left.
    assert bombe.fields == {
        "kind": "warning",
        "event": "Bombenentschärfung",
        "category": "safety",
        "severity": "extreme",
        "headline": "Fliegerbombe in [Ortsteil]",
    }
    assert bombe.expires_hours is None
    # The built-in directory still gives the built-in one.
    assert built_in()["bombe"].title == "Bombenentschärfung / Evakuierung"


def test_templates_of_the_same_order_are_sorted_by_title(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", 'title = "Zeckenwarnung"\norder = 1\n')
    write(tmp_path, "a.toml", 'title = "Ärger im Amt"\norder = 1\n')
    write(tmp_path, "c.toml", 'title = "Badeverbot"\n')
    assert [t.title for t in load_form_templates(tmp_path)] == ["Ärger im Amt", "Zeckenwarnung", "Badeverbot"]


def test_what_a_file_may_leave_out(tmp_path: Path) -> None:
    write(tmp_path, "kurz.toml", 'title = "Kurz"\n')
    [template] = load_form_templates(tmp_path)
    assert template == FormTemplate(name="kurz", title="Kurz", title_en="Kurz", order=100, fields={})


def test_unquoted_dotted_keys_and_cap_capitals_mean_the_same(tmp_path: Path) -> None:
    write(tmp_path, "cap.toml", 'title = "CAP"\n[fields]\narea.description = "Kreis"\nseverity = "Severe"\n')
    [template] = load_form_templates(tmp_path)
    assert template.fields == {"area.description": "Kreis", "severity": "severe"}


def test_editor_backup_files_and_other_files_are_not_templates(tmp_path: Path) -> None:
    write(tmp_path, ".#bombe.toml", "not toml [")
    write(tmp_path, "liesmich.txt", "Vorlagen der Pressestelle")
    assert load_form_templates(tmp_path) == []


def test_a_directory_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FormTemplateError, match="vorlagen: is not a directory"):
        load_form_templates(BUILT_IN, tmp_path / "vorlagen")


# --- files with mistakes ------------------------------------------------------------------------


def test_an_unknown_field_is_named_with_what_was_probably_meant_and_what_is_allowed(tmp_path: Path) -> None:
    error = refusal(tmp_path, 'title = "T"\n[fields]\ninstructions = "Bleiben Sie drinnen."\n')
    assert error.key == "fields.instructions"
    message = str(error)
    assert "fields.instructions is not a field a template can fill" in message
    assert "did you mean instruction?" in message
    assert "headline, description" in message and "area.description" in message and "hashtags" in message


def test_a_severity_that_is_not_caps_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    error = refusal(tmp_path, 'title = "T"\n[fields]\nseverity = "hoch"\n')
    assert error.key == "fields.severity"
    assert "fields.severity cannot be 'hoch'; use extreme, severe, moderate, minor, unknown" in str(error)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("kind", "alarm", "warning, news"),
        ("category", "weather", "geo, met, safety"),
        ("urgency", "now", "immediate, expected, future, past, unknown"),
        ("certainty", "sure", "observed, likely, possible, unlikely, unknown"),
    ],
)
def test_every_choice_is_checked_against_the_announcements_values(
    tmp_path: Path, key: str, value: str, allowed: str
) -> None:
    error = refusal(tmp_path, f'title = "T"\n[fields]\n{key} = "{value}"\n')
    assert error.key == f"fields.{key}"
    assert allowed in str(error)


def test_broken_toml_is_named_with_its_line(tmp_path: Path) -> None:
    error = refusal(tmp_path, 'title = "T"\n[fields]\nheadline = "Sturm\n')
    assert error.key is None
    assert "is not valid TOML" in str(error) and "line 3" in str(error)


def test_an_unknown_setting_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    error = refusal(tmp_path, 'title = "T"\n[field]\nheadline = "Sturm"\n')
    assert error.key == "field"
    assert "title, title_en, order, fields, expires" in str(error)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('title_en = "T"\n', "title"),
        ('title = "T"\norder = "erst"\n', "order"),
        ('title = "T"\n[fields]\nhashtags = "Sturm"\n', "fields.hashtags"),
        ('title = "T"\n[fields]\nheadline = ["Sturm"]\n', "fields.headline"),
        ('title = "T"\n[fields]\nheadline = "  "\n', "fields.headline"),
        ('title = "T"\n[expires]\nhours = 0\n', "expires.hours"),
        ('title = "T"\n[expires]\nhours = inf\n', "expires.hours"),
        ('title = "T"\n[expires]\nhours = 100000\n', "expires.hours"),
        ('title = "T"\n[expires]\ndays = 1\n', "expires.days"),
    ],
)
def test_values_of_the_wrong_shape_are_named(tmp_path: Path, text: str, key: str) -> None:
    error = refusal(tmp_path, text)
    assert error.key == key
    assert f"{key} " in str(error)


def test_a_file_name_that_cannot_be_part_of_an_address_is_refused(tmp_path: Path) -> None:
    error = refusal(tmp_path, 'title = "T"\n', name="schule neu.toml")
    assert "letters, digits, - and _" in str(error)


def test_the_loaded_template_cannot_be_changed() -> None:
    template = built_in()["bombe"]
    with pytest.raises(ValueError, match="frozen"):
        template.title = "Anders"  # type: ignore[misc]
