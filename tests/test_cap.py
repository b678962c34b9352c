"""CAP 1.2 from warning systems: what Herold takes, what it makes of it, and what it refuses.

The real alerts are the German weather service's (tests/fixtures/cap/SOURCES.md); the small ones
are written here, each changing one thing of a minimal valid alert.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.domain.announcement import Announcement, parse_announcement
from publisher.sources.cap import MAX_CAP_BYTES, CapAlert, CapError, CapReference, parse_cap

from conftest import FIXTURES

WINDBOEEN = (FIXTURES / "cap" / "dwd-alert-windboeen-2023-06-22.xml").read_bytes()
STARKREGEN = (FIXTURES / "cap" / "dwd-update-starkregen-2023-06-23.xml").read_bytes()

MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>LK-BSP-2024-0042</identifier>
  <sender>leitstelle@landkreis-beispiel.de</sender>
  <sent>2024-03-12T10:15:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>de-DE</language>
    <category>CBRNE</category>
    <event>Bombenentschärfung</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <effective>2024-03-12T10:15:00+01:00</effective>
    <expires>2024-03-12T18:00:00+01:00</expires>
    <headline>Evakuierung wegen Bombenentschärfung in der Altstadt</headline>
    <description>Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.</description>
    <instruction>Verlassen Sie das Sperrgebiet bis 14 Uhr.</instruction>
    <area>
      <areaDesc>Altstadt Beispielstadt</areaDesc>
      <polygon>52.0,9.0 52.0,9.1 52.1,9.1 52.0,9.0</polygon>
      <geocode><valueName>ARS</valueName><value>031590000000</value></geocode>
    </area>
  </info>
</alert>
"""


def minimal(*replacements: tuple[str, str]) -> bytes:
    """The minimal alert with each (old, new) replaced once; a replacement that finds nothing
    is a mistake in the test."""
    text = MINIMAL
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


def announced(alert: CapAlert, **extra: Any) -> Announcement:
    """The alert's document as the lead's intake would validate it (raises InvalidInput)."""
    return parse_announcement({**alert.document, "authority": "lk-beispiel", **extra})


def refusal(data: bytes, language: str = "de") -> str:
    with pytest.raises(CapError) as refused:
        parse_cap(data, language=language)
    return str(refused.value)


# --- the weather service's alert: WINDBÖEN, 8 languages, 169 areas ---------------------------


def test_a_dwd_alert_becomes_a_warning_in_german_with_caps_values_in_lower_case() -> None:
    alert = parse_cap(WINDBOEEN)
    assert (alert.status, alert.msg_type, alert.references) == ("actual", "alert", ())
    document = alert.document
    assert {name: document[name] for name in ("kind", "msg_type", "status", "category", "event")} == {
        "kind": "warning",
        "msg_type": "alert",
        "status": "actual",
        "category": "met",
        "event": "WINDBÖEN",
    }
    assert (document["severity"], document["urgency"], document["certainty"]) == ("minor", "immediate", "likely")
    assert document["language"] == "de"  # de-DE, by its primary subtag
    assert document["headline"] == "Amtliche WARNUNG vor WINDBÖEN"
    assert document["description"] == (
        "Es treten Windböen mit Geschwindigkeiten um 55 km/h (15 m/s, 30 kn, Bft 7) anfangs aus westlicher, "
        "später aus nordwestlicher Richtung auf. In exponierten Lagen muss mit Sturmböen um 65 km/h "
        "(18 m/s, 35 kn, Bft 8) gerechnet werden."
    )
    assert (document["effective"], document["expires"]) == ("2023-06-22T23:40:00+02:00", "2023-06-23T16:00:00+02:00")
    assert document["contact"] == "Deutscher Wetterdienst"
    # The caller adds these two: its authority, and the announcement the references lead to.
    assert "authority" not in document and "references" not in document


def test_a_cap_alert_is_known_by_sender_identifier_and_sent_as_written() -> None:
    alert = parse_cap(WINDBOEEN)
    identifier = "2.49.0.0.276.0.DWD.PVW.1687470000000.fe90b61b-3755-4efb-8eda-b161251da9f7.MUL"
    assert (alert.sender, alert.identifier, alert.sent) == ("opendata@dwd.de", identifier, "2023-06-22T23:40:00+02:00")
    assert alert.source_id == f"opendata@dwd.de,{identifier},2023-06-22T23:40:00+02:00"


def test_every_other_language_becomes_a_translation() -> None:
    translations = parse_cap(WINDBOEEN).document["translations"]
    assert list(translations) == ["en", "fr", "es", "ar", "ru", "tr", "pl"]
    assert translations["en"] == {
        "headline": "Official WARNING of WIND GUSTS",
        "description": "There is a risk of wind gusts (level 1 of 4).\nMax. gusts: ~ 55 km/h; "
        "Wind direction: west then north-west; Increased gusts: in exposed locations ~ 65 km/h",
    }  # the DWD's <instruction/> is empty in every language: no instruction in the translation
    assert translations["fr"]["headline"] == "ALERTE officielle INTEMPÉRIES pour RAFALES DE VENT"


def test_the_language_asked_for_is_the_main_text_and_german_a_translation() -> None:
    document = parse_cap(WINDBOEEN, language="en-GB").document
    assert (document["language"], document["headline"], document["event"]) == (
        "en",
        "Official WARNING of WIND GUSTS",
        "wind gusts",
    )
    assert "en" not in document["translations"]
    assert document["translations"]["de"]["headline"] == "Amtliche WARNUNG vor WINDBÖEN"


def test_a_language_the_alert_does_not_have_falls_back_to_its_first_info_block() -> None:
    assert parse_cap(minimal(), language="fr").document["language"] == "de"


def test_the_area_names_every_area_as_far_as_the_model_takes_them_and_keeps_all_geocodes() -> None:
    area = parse_cap(WINDBOEEN).document["area"]
    # 169 names are 3,617 characters; the model takes 1,000: whole names, then "…".
    assert area["description"].startswith("polygonal event area; Gemeinde Bovenden; Gemeinde Delligsen; ")
    assert len(area["description"]) <= 1000 and area["description"].endswith("; …")
    names = area["description"].removesuffix("; …").split("; ")
    assert all(f"<areaDesc>{name}</areaDesc>".encode() in WINDBOEEN for name in names)
    assert len(area["geocodes"]) == 168
    assert {code["name"] for code in area["geocodes"]} == {"WARNCELLID"}
    assert {"name": "WARNCELLID", "value": "803254045"} in area["geocodes"]  # Gemeinde Sibbesse, the last area
    [ring] = area["polygons"]
    assert len(ring) == 400 and ring[0] == [52.363952, 9.434182] and ring[0] == ring[-1]


def test_an_empty_instruction_is_worded_from_the_response_type_and_the_senders_web_page() -> None:
    # A warning must say what people should do; the DWD leaves <instruction/> empty for minor
    # warnings and says it as responseType "Prepare", with its web page for the details.
    assert parse_cap(WINDBOEEN).document["instruction"] == (
        "[ergänzt] Bereiten Sie sich auf die Gefahr vor. Weitere Hinweise: https://www.wettergefahren.de"
    )


def test_an_alert_that_says_nothing_of_what_to_do_asks_people_to_watch_for_further_messages() -> None:
    # Some MoWaS warnings carry neither an instruction nor a responseType; refusing them would
    # lose the warning. CAP's mildest response, in Herold's words, is the last resort.
    silent = ("<instruction>Verlassen Sie das Sperrgebiet bis 14 Uhr.</instruction>", "")
    instruction = parse_cap(minimal(silent)).document["instruction"]
    assert instruction == "[ergänzt] Achten Sie auf weitere Meldungen.", "marked as not the sender's words"
    cancel = parse_cap(minimal(silent, ("<msgType>Alert</msgType>", "<msgType>Cancel</msgType>"))).document
    assert "instruction" not in cancel, "an all-clear is not told to watch for more"


def test_an_instruction_the_sender_wrote_is_never_replaced() -> None:
    document = parse_cap(minimal(("<category>", "<category>Safety</category><category>"))).document
    assert document["instruction"] == "Verlassen Sie das Sperrgebiet bis 14 Uhr."
    assert document["category"] == "safety"  # the first category


def test_the_licence_names_the_sender_and_the_geodata_licence_it_carries() -> None:
    assert parse_cap(WINDBOEEN).licence == "Deutscher Wetterdienst; © GeoBasis-DE / BKG 2021 (Daten modifiziert)"
    assert parse_cap(minimal()).licence is None  # no senderName, no <source>, no LICENSE code


def test_the_announcement_names_whose_text_it_relays_as_its_attribution() -> None:
    announcement = announced(parse_cap(WINDBOEEN))

    # The DWD's <source> is its production system ("PVW"): no name a reader would know.
    assert announcement.attribution == "Deutscher Wetterdienst; © GeoBasis-DE / BKG 2021 (Daten modifiziert)"
    assert "attribution" not in parse_cap(minimal()).document


def test_a_sender_without_a_name_is_named_by_its_source() -> None:
    alert = parse_cap(minimal(("<scope>", "<source>Leitstelle Beispiel</source><scope>")))
    assert alert.licence == alert.document["attribution"] == "Leitstelle Beispiel"


def test_a_source_flagged_as_the_attribution_names_the_text_s_owner_whoever_sends_it() -> None:
    # As a Herold site writes a relayed warning (publisher.site.cap): its own name as senderName.
    flagged = minimal(
        ("<scope>Public</scope>", "<source>Deutscher Wetterdienst; © GeoBasis-DE / BKG</source><scope>Public</scope>"
         "<code>herold:source-is-attribution</code>"),
        ("<headline>", "<senderName>Landkreis Beispiel</senderName><headline>"),
    )  # fmt: skip
    unflagged = minimal(
        ("<scope>", "<source>PVW</source><scope>"),
        ("<headline>", "<senderName>Landkreis Beispiel</senderName><headline>"),
    )

    assert parse_cap(flagged).document["attribution"] == "Deutscher Wetterdienst; © GeoBasis-DE / BKG"
    assert parse_cap(unflagged).document["attribution"] == "Landkreis Beispiel"


@pytest.mark.parametrize("sample", [WINDBOEEN, STARKREGEN], ids=["windboeen", "starkregen"])
def test_the_dwd_alerts_are_valid_announcements(sample: bytes) -> None:
    alert = parse_cap(sample)
    announcement = announced(alert, **({"references": "a1b2c3"} if alert.msg_type == "update" else {}))
    assert announcement.headline == alert.document["headline"]
    assert announcement.effective is not None and announcement.effective.utcoffset() == timedelta(hours=2)
    assert len(announcement.translations) == 7


# --- the weather service's update: STARKREGEN ---------------------------------------------------


def test_a_dwd_update_names_the_alert_it_updates_as_a_cap_reference() -> None:
    alert = parse_cap(STARKREGEN)
    assert (alert.msg_type, alert.document["msg_type"]) == ("update", "update")
    assert alert.references == (
        CapReference(
            sender="opendata@dwd.de",
            identifier="2.49.0.0.276.0.DWD.PVW.1687503060000.fc4f7fd9-80e7-4d71-969a-254be3e27e83.MUL",
            sent="2023-06-23T08:51:00+02:00",
        ),
    )
    assert alert.references[0].source_id == (
        "opendata@dwd.de,2.49.0.0.276.0.DWD.PVW.1687503060000.fc4f7fd9-80e7-4d71-969a-254be3e27e83.MUL,"
        "2023-06-23T08:51:00+02:00"
    )
    assert alert.document["instruction"].startswith("ACHTUNG! Hinweis auf mögliche Gefahren:")
    assert alert.document["area"]["description"] == (
        "polygonal event area; Stadt Havelsee; Gemeinde Milower Land; Gemeinde Beetzsee"
    )


# --- small alerts: one thing changed each -------------------------------------------------------


def test_a_minimal_alert_maps_every_field() -> None:
    alert = parse_cap(minimal())
    assert alert.document == {
        "kind": "warning",
        "msg_type": "alert",
        "status": "actual",
        "category": "cbrne",
        "event": "Bombenentschärfung",
        "severity": "severe",
        "urgency": "expected",
        "certainty": "observed",
        "headline": "Evakuierung wegen Bombenentschärfung in der Altstadt",
        "description": "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.",
        "instruction": "Verlassen Sie das Sperrgebiet bis 14 Uhr.",
        "area": {
            "description": "Altstadt Beispielstadt",
            "geocodes": [{"name": "ARS", "value": "031590000000"}],
            "polygons": [[[52.0, 9.0], [52.0, 9.1], [52.1, 9.1], [52.0, 9.0]]],
        },
        "effective": "2024-03-12T10:15:00+01:00",
        "expires": "2024-03-12T18:00:00+01:00",
        "language": "de",
    }
    assert announced(alert).area is not None


@pytest.mark.parametrize("status", ["Exercise", "Test", "System", "Draft"])
def test_a_drill_or_test_keeps_its_status_so_it_is_never_published(status: str) -> None:
    alert = parse_cap(minimal(("<status>Actual</status>", f"<status>{status}</status>")))
    assert alert.status == alert.document["status"] == status.lower()
    assert announced(alert).status.value == status.lower()


def test_a_cancel_refers_to_the_alerts_it_ends() -> None:
    references = (
        "leitstelle@landkreis-beispiel.de,LK-BSP-2024-0042,2024-03-12T10:15:00+01:00 "
        "leitstelle@landkreis-beispiel.de,LK-BSP-2024-0043,2024-03-12T11:30:00+01:00"
    )
    alert = parse_cap(
        minimal(
            ("<msgType>Alert</msgType>", "<msgType>Cancel</msgType>"),
            ("<identifier>LK-BSP-2024-0042", "<identifier>LK-BSP-2024-0044"),
            ("<scope>Public</scope>", f"<scope>Public</scope>\n  <references>{references}</references>"),
            ("<headline>Evakuierung wegen", "<headline>Entwarnung: Ende der Evakuierung wegen"),
        )
    )
    assert alert.msg_type == alert.document["msg_type"] == "cancel"
    assert [reference.source_id for reference in alert.references] == references.split(" ")
    assert alert.references[1].identifier == "LK-BSP-2024-0043"
    assert alert.source_id == "leitstelle@landkreis-beispiel.de,LK-BSP-2024-0044,2024-03-12T10:15:00+01:00"
    assert announced(alert, references="a1b2c3").msg_type.value == "cancel"


def test_update_and_error_become_update_and_withdrawal() -> None:
    for cap_type, msg_type in (("Update", "update"), ("Error", "error")):
        alert = parse_cap(minimal(("<msgType>Alert</msgType>", f"<msgType>{cap_type}</msgType>")))
        assert alert.msg_type == alert.document["msg_type"] == msg_type


def test_a_headline_over_160_characters_is_shortened_and_kept_whole_in_the_description() -> None:
    headline = "Evakuierung wegen Bombenentschärfung " + "in der Altstadt und den angrenzenden Straßen " * 4
    alert = parse_cap(minimal(("Evakuierung wegen Bombenentschärfung in der Altstadt", headline)))
    shortened = alert.document["headline"]
    assert len(shortened) <= 160 and shortened.endswith("…")
    assert headline.startswith(shortened.removesuffix("…")) and headline[len(shortened) - 1] == " "  # a whole word
    original = "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft."
    assert alert.document["description"] == f"{headline.strip()}\n\n{original}"
    announced(alert)


def test_a_description_over_10000_characters_ends_at_its_last_whole_sentence_that_fits() -> None:
    description = "Die Bombe wird am Nachmittag entschärft. " * 300  # 12,300 characters
    document = parse_cap(minimal(("<description>", f"<description>{description}"))).document
    assert len(document["description"]) <= 10_000
    assert document["description"].endswith("entschärft.")
    assert description.startswith(document["description"])
    assert len(document["description"]) > 10_000 - len("Die Bombe wird am Nachmittag entschärft. ")


def test_missing_description_is_the_headline_and_missing_headline_the_event() -> None:
    without = minimal(
        ("<headline>Evakuierung wegen Bombenentschärfung in der Altstadt</headline>", ""),
        ("<description>Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.</description>", ""),
    )
    document = parse_cap(without).document
    assert document["headline"] == document["description"] == "Bombenentschärfung"


def test_effective_falls_back_to_onset() -> None:
    document = parse_cap(
        minimal(("<effective>2024-03-12T10:15:00+01:00</effective>", "<onset>2024-03-12T12:00:00+01:00</onset>"))
    ).document
    assert document["effective"] == "2024-03-12T12:00:00+01:00"


def test_an_info_block_without_language_is_english_as_cap_says() -> None:
    assert parse_cap(minimal(("<language>de-DE</language>", ""))).document["language"] == "en"


def test_control_characters_the_model_refuses_are_dropped_from_the_text() -> None:
    # XML 1.0 allows C1 controls and bidirectional overrides; the announcement does not.
    alert = parse_cap(
        minimal(("Sie wird heute", "Sie&#x85; wird heute"), ("Evakuierung wegen", "Evakuierung\u202e wegen"))
    )
    assert alert.document["description"].endswith("Sie wird heute entschärft.")
    assert alert.document["headline"] == "Evakuierung wegen Bombenentschärfung in der Altstadt"
    announced(alert)


def test_a_document_in_utf_16_with_a_byte_order_mark_reads_like_utf_8() -> None:
    utf16 = MINIMAL.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert utf16.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert parse_cap(utf16).document == parse_cap(minimal()).document


def test_schema_location_hints_in_the_document_are_not_followed() -> None:
    # Were the hint followed, loading it would be refused (or hang on the closed port).
    hinted = minimal(
        (
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">',
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 http://127.0.0.1:9/evil.xsd">',
        )
    )
    assert parse_cap(hinted).identifier == "LK-BSP-2024-0042"


# --- refusals: always a CapError with a short sentence naming what is wrong ---------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE alert [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""

# Inside an XML signature, which the schema lets through without a content model.
DEEP = (
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" xmlns:d="http://www.w3.org/2000/09/xmldsig#">'
    + b"<d:a>" * 50_000
    + b"</d:a>" * 50_000
    + b"</alert>"
)

REFUSED = {
    "not XML": (b"Herold, bitte warnen!", "the body is not well-formed XML"),
    "JSON": (b'{"headline": "Sturm"}', "the body is not well-formed XML"),
    "empty": (b"", "the body is empty"),
    "blank": (b" \n\t", "the body is empty"),
    "billion laughs": (BILLION_LAUGHS, "DOCTYPE"),
    "external entity": (XXE, "DOCTYPE"),
    "undeclared entity": (minimal(("LK-BSP-2024-0042", "&secret;")), "not well-formed XML (undefined entity"),
    "CAP 1.1": (
        minimal(("emergency:cap:1.2", "emergency:cap:1.1")),
        "the root element is {urn:oasis:names:tc:emergency:cap:1.1}alert, not a CAP 1.2 alert",
    ),
    "no namespace": (minimal((' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', "")), "root element is alert, not"),
    "another root": (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "the root element is {http://www.w3.org/2005"),
    "no sent": (
        minimal(("<sent>2024-03-12T10:15:00+01:00</sent>", "")),
        "not valid CAP 1.2 at /alert: Unexpected child with tag 'status' at position 3. Tag 'sent' expected.",
    ),
    "sent in UTC with Z": (
        minimal(("2024-03-12T10:15:00+01:00</sent>", "2024-03-12T09:15:00Z</sent>")),
        "not valid CAP 1.2 at /alert/sent: value doesn't match any pattern",
    ),
    "unknown severity": (
        minimal(("<severity>Severe</severity>", "<severity>Hoch</severity>")),
        "not valid CAP 1.2 at /alert/info/severity: value must be one of ['Extreme', 'Severe',",
    ),
    "over 1 MiB": (
        minimal(("<description>", "<description>" + "x" * MAX_CAP_BYTES)),
        f"Herold takes at most {MAX_CAP_BYTES} (1 MiB)",
    ),
    "Ack": (
        minimal(("<msgType>Alert</msgType>", "<msgType>Ack</msgType>")),
        "an Ack acknowledges another message; Herold publishes nothing for it",
    ),
    "restricted": (
        minimal(("<scope>Public</scope>", "<scope>Restricted</scope><restriction>BOS</restriction>")),
        "the alert's scope is Restricted; Herold publishes only alerts with scope Public",
    ),
    "no info": (
        minimal(("<info>", "<!--"), ("</info>", "-->")),
        "the alert has no <info> block",
    ),
    "nested 50,000 deep": (DEEP, "nests elements more than 32 deep"),
    "UTF-16 declared, UTF-8 sent": (minimal(('encoding="UTF-8"', 'encoding="UTF-16"')), "not well-formed XML"),
    "unknown encoding": (minimal(('encoding="UTF-8"', 'encoding="x-herold"')), "cannot be read as XML"),
    "open polygon": (
        minimal(("52.1,9.1 52.0,9.0</polygon>", "52.1,9.1 52.1,9.0</polygon>")),
        "polygon 1 is not a closed ring of at least four points",
    ),
    "latitude out of range": (minimal(("52.0,9.1 52.1", "92.0,9.1 52.1")), "polygon 1 has '92.0,9.1', outside"),
    "not a coordinate": (minimal(("52.0,9.1 52.1", "nan,9.1 52.1")), "polygon 1 has 'nan,9.1', outside"),
    "broken references": (
        minimal(("<scope>Public</scope>", "<scope>Public</scope><references>LK-BSP-2024-0041</references>")),
        "<references> must list sender,identifier,sent triples separated by spaces; 'LK-BSP-2024-0041' is not one",
    ),
    "identifier with a space": (
        minimal(("LK-BSP-2024-0042", "LK BSP 2024 0042")),
        "the alert's identifier contains a space, comma, < or &",
    ),
}


@pytest.mark.parametrize(("data", "expected"), list(REFUSED.values()), ids=list(REFUSED))
def test_what_is_not_a_cap_12_alert_herold_can_publish_is_refused_with_a_short_reason(
    data: bytes, expected: str
) -> None:
    message = refusal(data)
    assert expected in message
    assert len(message) <= 300  # an answer, never the payload


def test_a_refusal_quotes_nothing_of_the_document_at_length() -> None:
    message = refusal(f"<{'x' * 5000} />".encode())
    assert message.startswith("the root element is xxxx") and len(message) <= 300


# --- whatever arrives ---------------------------------------------------------------------------


# Where an element's text begins in the sample: most changes there keep the XML well-formed, so
# they reach the schema and the mapping, not just the parser.
TEXTS = [match.start() + 1 for match in re.finditer(rb">[^<\s]", STARKREGEN)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The update sample with an element's text replaced, or bytes flipped, deleted or inserted,
    or cut short."""
    data = bytearray(STARKREGEN)
    for _ in range(draw(st.integers(1, 4))):
        change = draw(st.sampled_from(["text", "text", "text", "flip", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, len(data) - 1)) if data else 0
        if change == "text":
            start = draw(st.sampled_from(TEXTS))
            end = data.find(b"<", start)
            if start < len(data) and end > start:
                data[start:end] = escape(draw(st.text(max_size=40))).encode("utf-8", "surrogatepass")
        elif change == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif change == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif change == "insert":
            data[at:at] = draw(st.sampled_from([b"<", b"&", b"]]>", b"<!DOCTYPE a>", b"\x00", b"\xc3", b"<x>", b"'"]))
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_dwd_alert_is_taken_or_refused_with_a_cap_error_never_anything_else(data: bytes) -> None:
    try:
        alert = parse_cap(data)
    except CapError as error:
        message = str(error)
        assert 0 < len(message) <= 300
    else:
        assert alert.document["kind"] == "warning" and alert.source_id.startswith(alert.sender)


def test_an_element_with_thousands_of_attributes_is_refused_before_the_schema_check() -> None:
    attributes = " ".join(f'a{number}="x"' for number in range(5000))
    document = (
        '<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier {attributes}>x</identifier></alert>"
    ).encode()
    with pytest.raises(CapError, match="has more than 8 attributes"):
        parse_cap(document)
