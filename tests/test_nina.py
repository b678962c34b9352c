"""NINA / MoWaS warnings as JSON: taken as the CAP 1.2 alerts they are, and what is refused.

The real warnings are MoWaS's (tests/fixtures/nina/SOURCES.md); the small ones are written here,
each changing one thing of a minimal valid warning in NINA's JSON shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.domain.announcement import Announcement, parse_announcement
from publisher.sources.cap import MAX_CAP_BYTES, CapAlert, CapError, CapReference, parse_cap
from publisher.sources.nina import parse_nina

from conftest import FIXTURES

NINA = FIXTURES / "nina"
BORKEN = (NINA / "mowas-alert-DE-NW-BOR-SE059-20220217-59-000.json").read_bytes()
ANSBACH = (NINA / "mowas-alert-DE-BY-AN-W166-20220216-000.json").read_bytes()
KONSTANZ = (NINA / "mowas-update-DE-BW-KN-W131-20220128-000.json").read_bytes()
SIEGEN = (NINA / "mowas-update-DE-NW-SI-SE066-20220211-66-001.json").read_bytes()
HAMBURG = (NINA / "mowas-cancel-DE-HH-HH-SE033-20220217-33-000.json").read_bytes()
DASHBOARD = (NINA / "dashboard-sample.json").read_bytes()
MOWAS = {"borken": BORKEN, "ansbach": ANSBACH, "konstanz": KONSTANZ, "siegen": SIEGEN, "hamburg": HAMBURG}

# The minimal CAP alert of tests/test_cap.py, as NINA writes it: lists, "DE", lon,lat, <br/>.
MINIMAL: dict[str, Any] = {
    "identifier": "LK-BSP-2024-0042",
    "sender": "leitstelle@landkreis-beispiel.de",
    "sent": "2024-03-12T10:15:00+01:00",
    "status": "Actual",
    "msgType": "Alert",
    "scope": "Public",
    "code": ["DVN:2"],
    "info": [
        {
            "language": "DE",
            "category": ["CBRNE"],
            "event": "Bombenentschärfung",
            "urgency": "Expected",
            "severity": "Severe",
            "certainty": "Observed",
            "effective": "2024-03-12T10:15:00+01:00",
            "expires": "2024-03-12T18:00:00+01:00",
            "headline": "Evakuierung wegen Bombenentschärfung in der Altstadt",
            "description": "Bei Bauarbeiten wurde eine Fliegerbombe gefunden.<br/>Sie wird heute entschärft.",
            "instruction": "Verlassen Sie das Sperrgebiet bis 14 Uhr.",
            "area": [
                {
                    "areaDesc": "Altstadt Beispielstadt",
                    "polygon": ["9.0,52.0 9.1,52.0 9.1,52.1 9.0,52.0"],
                    "geocode": [{"valueName": "ARS", "value": "031590000000"}],
                }
            ],
        }
    ],
}


def minimal(*changes: Callable[[dict[str, Any]], object]) -> bytes:
    """The minimal warning with each change made to a copy of it (``info`` is its first info block)."""
    warning = json.loads(json.dumps(MINIMAL))
    for change in changes:
        change(warning)
    return json.dumps(warning, separators=(",", ":")).encode()


def info(**fields: Any) -> Callable[[dict[str, Any]], object]:
    return lambda warning: warning["info"][0].update(fields)


def alert(**fields: Any) -> Callable[[dict[str, Any]], object]:
    return lambda warning: warning.update(fields)


def without(*keys: str) -> Callable[[dict[str, Any]], object]:
    def drop(warning: dict[str, Any]) -> None:
        for key in keys:
            block = warning["info"][0] if key in warning["info"][0] else warning
            del block[key]

    return drop


def announced(warning: CapAlert, **extra: Any) -> Announcement:
    """The warning's document as the lead's intake would validate it (raises InvalidInput)."""
    return parse_announcement({**warning.document, "authority": "lk-beispiel", **extra})


def refusal(data: bytes) -> str:
    with pytest.raises(CapError) as refused:
        parse_nina(data)
    return str(refused.value)


def original(sample: bytes, key: str) -> str:
    text = json.loads(sample)["info"][0][key]
    assert isinstance(text, str)
    return text


# --- MoWaS's warnings ---------------------------------------------------------------------------


def test_a_mowas_alert_becomes_a_warning_with_its_text_unaltered() -> None:
    warning = parse_nina(BORKEN)
    assert (warning.status, warning.msg_type, warning.references) == ("actual", "alert", ())
    document = warning.document
    assert {name: document[name] for name in ("kind", "msg_type", "status", "category", "event", "language")} == {
        "kind": "warning",
        "msg_type": "alert",
        "status": "actual",
        "category": "infra",
        "event": "Gefahreninformation",
        "language": "de",  # MoWaS writes "DE"
    }
    assert (document["severity"], document["urgency"], document["certainty"]) == ("minor", "immediate", "observed")
    assert document["headline"] == "Ausfall Stromversorgung in Teilen vom Kreis Borken"
    # Word for word as MoWaS sent them; only its HTML line breaks are line breaks.
    assert "<br/>" in original(BORKEN, "description")
    assert document["description"] == original(BORKEN, "description").replace("<br/>", "\n")
    assert document["description"].startswith(
        "Es folgt eine wichtige Information der Kreisleitstelle Borken\nIm südlichem Teil vom Kreis Borken ist zum "
        "teil der Strom ausgefallen."  # MoWaS's spelling, kept
    )
    assert document["instruction"] == (
        "Falls möglich, informieren Sie sich in den Medien, zum Beispiel im Lokalradio.\n"
        "Reduzieren Sie Ihren Stromverbrauch über Akkus und Batterien auf das Nötigste."
    )
    assert "authority" not in document and "references" not in document


def test_a_mowas_warning_is_known_by_sender_identifier_and_sent_as_written() -> None:
    warning = parse_nina(BORKEN)
    assert (warning.sender, warning.identifier, warning.sent) == (
        "DE-NW-BOR-SE059",
        "DE-NW-BOR-SE059-20220217-59-000",
        "2022-02-17T05:52:36+01:00",
    )
    assert warning.source_id == "DE-NW-BOR-SE059,DE-NW-BOR-SE059-20220217-59-000,2022-02-17T05:52:36+01:00"


def test_polygons_written_lon_lat_come_out_as_lat_lon() -> None:
    assert json.loads(BORKEN)["info"][0]["area"][0]["polygon"] == [
        "6.6577,51.8366 7.0175,51.9087 6.8431,51.7517 6.6577,51.8366"
    ]
    assert parse_nina(BORKEN).document["area"]["polygons"] == [
        [[51.8366, 6.6577], [51.9087, 7.0175], [51.7517, 6.8431], [51.8366, 6.6577]]
    ]


@pytest.mark.parametrize("sample", list(MOWAS.values()), ids=list(MOWAS))
def test_every_point_of_every_mowas_polygon_is_in_germany_as_lat_lon(sample: bytes) -> None:
    polygons = parse_nina(sample).document["area"]["polygons"]
    assert polygons
    for ring in polygons:
        assert ring[0] == ring[-1]
        assert all(47.2 <= latitude <= 55.1 and 5.8 <= longitude <= 15.1 for latitude, longitude in ring)


def test_a_ring_already_in_caps_lat_lon_order_is_kept_as_it_is() -> None:
    turned = minimal(lambda w: w["info"][0]["area"][0].update(polygon=["52.0,9.0 52.0,9.1 52.1,9.1 52.0,9.0"]))
    assert parse_nina(turned).document["area"] == parse_nina(minimal()).document["area"]
    assert parse_nina(minimal()).document["area"]["polygons"] == [[[52.0, 9.0], [52.0, 9.1], [52.1, 9.1], [52.0, 9.0]]]


def test_the_order_is_told_per_ring() -> None:
    rings = ["9.0,52.0 9.1,52.0 9.1,52.1 9.0,52.0", "53.0,10.0 53.0,10.1 53.1,10.1 53.0,10.0"]
    area = parse_nina(minimal(lambda w: w["info"][0]["area"][0].update(polygon=rings))).document["area"]
    assert [ring[1] for ring in area["polygons"]] == [[52.0, 9.1], [53.0, 10.1]]


def test_a_ring_beginning_with_minus_one_is_a_hole_in_the_ring_before_and_left_out() -> None:
    # CAP has no holes. The hole here is the city of Ansbach inside its district; without it,
    # the district's ring still covers the area (the city with it), and the ARS says which it is.
    rings = json.loads(ANSBACH)["info"][0]["area"][0]["polygon"]
    assert [ring.split()[0] for ring in rings] == ["10.481,49.4159", "-1.0,-1.0"]
    area = parse_nina(ANSBACH).document["area"]
    [ring] = area["polygons"]
    assert ring[0] == ring[-1] == [49.4159, 10.481]
    assert len(ring) == len(rings[0].split())
    assert area["geocodes"] == [{"name": "ARS", "value": "095710000000"}]


def test_a_regional_key_mowas_names_after_its_place_is_named_ars() -> None:
    # MoWaS's valueName is the district's name, the value its ARS (Amtlicher Regionalschlüssel):
    # named ARS, so routing rules can compare it; the place's name is the area's description.
    area = parse_nina(BORKEN).document["area"]
    assert area["geocodes"] == [{"name": "ARS", "value": "055540000000"}]
    assert area["description"] == (
        "Gemeinde/Stadt: Gemeinde Heiden, Stadt Borken, Stadt Gescher, Stadt Bocholt, Stadt Velen, "
        "Gemeinde Raesfeld, Stadt Rhede"
    )
    assert parse_nina(HAMBURG).document["area"]["geocodes"] == [{"name": "ARS", "value": "020000000000"}]


@pytest.mark.parametrize("sample", list(MOWAS.values()), ids=list(MOWAS))
def test_the_mowas_warnings_are_valid_announcements(sample: bytes) -> None:
    warning = parse_nina(sample)
    announcement = announced(warning, **({"references": "a1b2c3"} if warning.references else {}))
    assert announcement.headline == warning.document["headline"] == original(sample, "headline")
    assert announcement.area is not None and announcement.area.geocodes


def test_a_mowas_update_names_every_message_of_its_chain_as_a_cap_reference() -> None:
    # The legacy feed writes a chain as one malformed triple, "id1 … idN-1 sender,id1 … idN,sent";
    # each identifier becomes a reference with the sender and sent the feed wrote for them.
    warning = parse_nina(KONSTANZ)
    assert (warning.msg_type, warning.document["msg_type"]) == ("update", "update")
    assert len(warning.references) == 20
    assert warning.references[0] == CapReference(
        sender="DE-BW-KN-W131", identifier="DE-BW-KN-W131-20220117-000", sent="2020-12-23T00:00:00+00:00"
    )
    assert warning.references[-1].identifier == "DE-BW-KN-W131-20201223-000"
    assert {(reference.sender, reference.sent) for reference in warning.references} == {
        ("DE-BW-KN-W131", "2020-12-23T00:00:00+00:00")
    }
    written = json.loads(KONSTANZ)["references"].split(",")[1].split()
    assert [reference.identifier for reference in warning.references] == written


def test_a_reference_in_caps_form_is_kept_as_written_however_odd() -> None:
    # The feed made this triple's sender and sent from the identifier; they are relayed as sent.
    warning = parse_nina(SIEGEN)
    assert warning.msg_type == "update"
    assert warning.references == (
        CapReference(
            sender="DE-NW-SI-SE066-20220211", identifier="DE-NW-SI-SE066-20220211-66-000", sent="66--T00:00:00+00:00"
        ),
    )


def test_a_mowas_cancel_refers_to_the_warning_it_ends() -> None:
    warning = parse_nina(HAMBURG)
    assert warning.msg_type == warning.document["msg_type"] == "cancel"
    assert [reference.identifier for reference in warning.references] == ["DE-HH-HH-SE033-20220216-33-000"]
    assert warning.document["headline"].startswith("Entwarnung: Sturmflut am 17.02.2022 um 05:02 Uhr")
    assert warning.document["expires"] == "2022-02-17T11:51:02+01:00"
    assert announced(warning, references="a1b2c3").msg_type.value == "cancel"


def test_caps_other_chains_still_need_whole_triples() -> None:
    # Only the legacy feed's exact shape is read as a chain: the identifiers before the sender
    # must be those after it.
    broken = minimal(alert(references="A-1 B-2 S,A-1 C-2 D-3,2024-03-12T00:00:00+00:00"))
    assert "<references> must list sender,identifier,sent triples" in refusal(broken)


# --- the NINA API's shape, and what NINA writes differently from CAP XML -------------------------


CAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>LK-BSP-2024-0042</identifier>
  <sender>leitstelle@landkreis-beispiel.de</sender>
  <sent>2024-03-12T10:15:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <code>DVN:2</code>
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
    <description>Bei Bauarbeiten wurde eine Fliegerbombe gefunden.
Sie wird heute entschärft.</description>
    <instruction>Verlassen Sie das Sperrgebiet bis 14 Uhr.</instruction>
    <area>
      <areaDesc>Altstadt Beispielstadt</areaDesc>
      <polygon>52.0,9.0 52.0,9.1 52.1,9.1 52.0,9.0</polygon>
      <geocode><valueName>ARS</valueName><value>031590000000</value></geocode>
    </area>
  </info>
</alert>
""".encode()


def test_the_minimal_warning_becomes_the_same_document_as_the_same_cap_alert() -> None:
    cap = parse_cap(CAP_XML)
    nina = parse_nina(minimal())
    assert nina.document == cap.document
    assert (nina.source_id, nina.references, nina.licence) == (cap.source_id, cap.references, cap.licence)


def test_a_warning_in_the_nina_apis_shape_is_taken() -> None:
    # The Warning example of the NINA API's OpenAPI description (with a language, a time in UTC).
    example = {
        "identifier": "kat.1234567890abcdef12345678_public_topics",
        "sender": "CAP@katwarn.de",
        "sent": "2021-09-24T13:37:35+02:00",
        "status": "Actual",
        "msgType": "Alert",
        "scope": "Public",
        "code": ["DVN:9"],
        "incidents": "1234567890abcdef12345678",
        "info": [
            {
                "language": "de",
                "category": ["Other"],
                "event": "Sonderfall",
                "urgency": "Unknown",
                "severity": "Severe",
                "certainty": "Unknown",
                "responseType": ["Monitor"],
                "eventCode": [{"valueName": "profile:DE-BBK-EVENTCODE", "value": "BBK-EVC-001"}],
                "effective": "2021-09-24T11:38:00Z",
                "senderName": "Feuerwehrleitstelle Musterstadt",
                "headline": "Feuerwehrleitstelle Musterstadt meldet: Warnung Sonderfall.  Gültig ab 01.09.2021, 11:11.",
                "description": (
                    "Es ist etwas passiert<br/>Belastung durch Beispiele Nachgewiesen<br/>Weitere informationen über..."
                ),
                "web": "https://bund.dev",
                "parameter": [{"valueName": "instructionCode", "value": "BBK-ISC-132"}],
                "area": [{"areaDesc": "Musterstadt", "geocode": [{"valueName": "AreaId", "value": "0"}]}],
            }
        ],
    }
    warning = parse_nina(json.dumps(example).encode())
    assert warning.identifier == "kat.1234567890abcdef12345678_public_topics"
    assert warning.licence == "Feuerwehrleitstelle Musterstadt"
    document = warning.document
    assert (
        document["headline"]
        == "Feuerwehrleitstelle Musterstadt meldet: Warnung Sonderfall. Gültig ab 01.09.2021, 11:11."
    )
    assert (
        document["description"]
        == "Es ist etwas passiert\nBelastung durch Beispiele Nachgewiesen\nWeitere informationen über..."
    )
    assert document["effective"] == "2021-09-24T11:38:00+00:00"
    # No instruction: worded from the coded responseType and the sender's web page, as for CAP XML.
    assert document["instruction"] == "[ergänzt] Achten Sie auf weitere Meldungen. Weitere Hinweise: https://bund.dev"
    assert document["area"] == {"description": "Musterstadt", "geocodes": [{"name": "AreaId", "value": "0"}]}
    announced(warning)


def test_html_line_breaks_and_entities_become_characters_and_other_markup_stays() -> None:
    description = (
        "Eins<br>Zwei<BR />Drei<br/>Vier &amp; fünf &lt;b&gt; &#228;&#xfc; <b>fett</b> Info&notfall &gibtsnicht;"
    )
    document = parse_nina(minimal(info(description=description, headline="Sturm &amp; Regen<br/>morgen"))).document
    assert document["description"] == "Eins\nZwei\nDrei\nVier & fünf <b> äü <b>fett</b> Info&notfall &gibtsnicht;"
    assert document["headline"] == "Sturm & Regen morgen"  # a headline is one line


def test_an_escaped_line_break_is_text_not_a_line_break() -> None:
    document = parse_nina(minimal(info(description="Zeichen &lt;br/&gt; im Text"))).document
    assert document["description"] == "Zeichen <br/> im Text"


@pytest.mark.parametrize("key", ["sent", "effective", "expires"])
def test_a_time_in_utc_written_with_z_is_written_with_its_offset(key: str) -> None:
    change = alert(sent="2024-03-12T09:15:00Z") if key == "sent" else info(**{key: "2024-03-12T09:15:00Z"})
    warning = parse_nina(minimal(change))
    assert (warning.sent if key == "sent" else warning.document[key]) == "2024-03-12T09:15:00+00:00"


@pytest.mark.parametrize("status", ["Exercise", "Test", "System", "Draft"])
def test_a_drill_or_test_keeps_its_status_so_it_is_never_published(status: str) -> None:
    warning = parse_nina(minimal(alert(status=status)))
    assert warning.status == warning.document["status"] == status.lower()
    assert announced(warning).status.value == status.lower()


def test_a_mowas_drill_keeps_its_status() -> None:
    drill = json.loads(BORKEN) | {"status": "Exercise"}
    assert parse_nina(json.dumps(drill, ensure_ascii=False).encode()).status == "exercise"


def test_caps_coded_values_are_read_whatever_their_case() -> None:
    shouted = minimal(
        alert(status="ACTUAL", msgType="UPDATE", scope="public"), info(severity="SEVERE", category=["cbrne"])
    )
    warning = parse_nina(shouted)
    assert (warning.status, warning.msg_type, warning.document["severity"]) == ("actual", "update", "severe")
    assert warning.document["category"] == "cbrne"


def test_the_language_codes_of_mowas_are_language_tags() -> None:
    assert parse_nina(minimal(info(language="DE"))).document["language"] == "de"
    assert parse_nina(minimal(info(language="de-DE")), language="en").document["language"] == "de"  # the only one


def test_control_characters_in_a_text_are_dropped_as_from_cap_xml() -> None:
    # Invisible, and the model refuses them; XML cannot carry most of them at all.
    document = parse_nina(minimal(info(description="Sie\x0b wird\x85 heute\x00 entschärft."))).document
    assert document["description"] == "Sie wird heute entschärft."


def test_the_licence_names_the_sender_and_the_licence_code_it_carries() -> None:
    licence = {"valueName": "LICENSE", "value": "© GeoBasis-DE / BKG 2021"}
    warning = parse_nina(minimal(info(senderName="Leitstelle Beispiel", eventCode=[licence])))
    assert warning.licence == "Leitstelle Beispiel; © GeoBasis-DE / BKG 2021"
    # MoWaS names its sender only in its parameter sender_langname: that is CAP's senderName.
    assert parse_nina(BORKEN).licence == "Leitstelle Kreis Borken"
    assert parse_nina(HAMBURG).licence == "Lagezentrum Polizei Hamburg, Behörde für Inneres und Sport"


def test_a_warning_with_every_key_cap_has_is_written_in_the_schemas_order() -> None:
    every = minimal(
        alert(source="Leitstelle", restriction="keine", addresses="alle", note="Übung &amp; Ernst", incidents="E-1"),
        alert(
            msgType="Update", references="leitstelle@landkreis-beispiel.de,LK-BSP-2024-0041,2024-03-12T09:00:00+01:00"
        ),
        info(
            responseType=["Evacuate", "Monitor"],
            audience="Bevölkerung",
            eventCode=[{"valueName": "profile:DE-BBK-EVENTCODE:01.00R", "value": "BBK-EVC-001"}],
            onset="2024-03-12T11:00:00+01:00",
            senderName="Leitstelle Beispiel",
            web="https://www.landkreis-beispiel.de/",
            contact="Bürgertelefon 0800 123",
            parameter=[{"valueName": "instructionCode", "value": "BBK-ISC-001"}],
            resource=[{"resourceDesc": "Karte", "mimeType": "image/png", "size": 1024, "uri": "https://x.de/k.png"}],
        ),
        lambda w: w["info"][0]["area"][0].update(circle=["52.05,9.05 0.5"], altitude=0, ceiling=250.5),
    )
    warning = parse_nina(every)
    assert warning.references[0].identifier == "LK-BSP-2024-0041"
    assert warning.document["contact"] == "Bürgertelefon 0800 123"
    announced(warning, references="a1b2c3")


def test_a_json_number_where_cap_takes_a_decimal_is_taken() -> None:
    area = {"areaDesc": "Turm", "altitude": 120, "ceiling": 140.5, "geocode": [{"valueName": "ARS", "value": "1"}]}
    assert parse_nina(minimal(info(area=[area]))).document["area"] == {
        "description": "Turm",
        "geocodes": [{"name": "ARS", "value": "1"}],
    }


# --- refusals: always a CapError with a short sentence naming what is wrong ---------------------


def dashboard_entry() -> bytes:
    entries = json.loads(DASHBOARD)
    return json.dumps(entries[0], ensure_ascii=False).encode()


def tiny_geocodes() -> bytes:
    # Under 1 MiB as JSON, twice that as XML.
    geocodes = [{"valueName": "a", "value": "b"}] * 34_000
    return minimal(lambda w: w["info"][0]["area"][0].update(geocode=geocodes))


REFUSED = {
    "not JSON": (b"Herold, bitte warnen!", "the body is not JSON (Expecting value at line 1, column 1)"),
    "CAP XML": (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>', "the body is not JSON"),
    "cut short": (BORKEN[:500], "the body is not JSON (Unterminated string"),
    "empty": (b"", "the body is empty"),
    "blank": (b" \n", "the body is empty"),
    "Latin-1": ('{"headline": "Stürme"}'.encode("latin-1"), "the body is not UTF-8 (byte 17 is not)"),
    "a string": (b'"Sturm"', "the JSON is a string, not a warning"),
    "null": (b"null", "the JSON is null, not a warning"),
    "the legacy feed's list": (b"[" + BORKEN + b"," + ANSBACH + b"]", "the JSON is a list of 2 items, not one warning"),
    "the dashboard": (DASHBOARD, "the JSON is a list of 2 items, not one warning"),
    "a dashboard entry": (dashboard_entry(), "the JSON is an entry of the NINA dashboard, a summary"),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "the JSON nests lists or objects too deep"),
    "a number of 5,000 digits": (b'{"identifier": ' + b"9" * 5000 + b"}", "a number too long"),
    "over 1 MiB": (minimal(info(description="x" * MAX_CAP_BYTES)), f"Herold takes at most {MAX_CAP_BYTES} (1 MiB)"),
    "over 1 MiB as XML": (tiny_geocodes(), "bytes as CAP XML; Herold takes at most 1048576 (1 MiB)"),
    "no identifier": (minimal(without("identifier")), "the warning has no identifier, which CAP requires"),
    "sent null": (minimal(alert(sent=None)), "the warning has no sent, which CAP requires"),
    "no event": (minimal(without("event")), "the warning has no info[0].event, which CAP requires"),
    "no category": (minimal(info(category=[])), "the warning's info[0].category is empty; CAP requires at least one"),
    "headline a number": (minimal(info(headline=42)), "the warning's info[0].headline is a number, not a string"),
    "identifier an object": (minimal(alert(identifier={"id": 1})), "the warning's identifier is an object, not a"),
    "info an object": (minimal(lambda w: w.update(info=w["info"][0])), "the warning's info is an object, not a list"),
    "info a list of strings": (minimal(alert(info=["Sturm"])), "the warning's info[0] is a string, not an object"),
    "category a string": (minimal(info(category="CBRNE")), "the warning's info[0].category is a string, not a list"),
    "code true": (minimal(alert(code=[True])), "the warning's code[0] is true or false, not a string"),
    "polygon a list of numbers": (
        minimal(lambda w: w["info"][0]["area"][0].update(polygon=[[9.0, 52.0]])),
        "the warning's info[0].area[0].polygon[0] is a list, not a string",
    ),
    "geocode without value": (
        minimal(lambda w: w["info"][0]["area"][0].update(geocode=[{"valueName": "ARS"}])),
        "the warning has no info[0].area[0].geocode[0].value, which CAP requires",
    ),
    "altitude a list": (
        minimal(lambda w: w["info"][0]["area"][0].update(altitude=[1])),
        "the warning's info[0].area[0].altitude is a list, not a number",
    ),
    "NUL in the identifier": (
        minimal(alert(identifier="LK-\x00-1")),
        "the warning's identifier contains U+0000, which CAP (XML) cannot carry",
    ),
    "lone surrogate in the sender": (b'{"identifier": "a", "sender": "\\ud800"}', "sender contains U+D800"),
    "sent without an offset": (
        minimal(alert(sent="2024-03-12T10:15:00")),
        "not valid CAP 1.2 at /alert/sent: value doesn't match any pattern",
    ),
    "unknown severity": (
        minimal(info(severity="Hoch")),
        "not valid CAP 1.2 at /alert/info/severity: value must be one of ['Extreme', 'Severe',",
    ),
    "restricted": (
        minimal(alert(scope="Restricted", restriction="BOS")),
        "the alert's scope is Restricted; Herold publishes only alerts with scope Public",
    ),
    "Ack": (minimal(alert(msgType="Ack")), "an Ack acknowledges another message"),
    "no info": (minimal(alert(info=[])), "the alert has no <info> block"),
    "open polygon": (
        minimal(lambda w: w["info"][0]["area"][0].update(polygon=["9.0,52.0 9.1,52.0 9.1,52.1 9.0,52.1"])),
        "polygon 1 is not a closed ring of at least four points",
    ),
    "not a coordinate": (
        minimal(lambda w: w["info"][0]["area"][0].update(polygon=["9.0,52.0 Ost,Nord 9.0,52.0"])),
        "polygon 1 has 'Ost,Nord', not a latitude,longitude pair",
    ),
    "identifier with a space": (minimal(alert(identifier="LK BSP 42")), "identifier contains a space, comma, < or &"),
}


@pytest.mark.parametrize(("data", "expected"), list(REFUSED.values()), ids=list(REFUSED))
def test_what_is_not_a_nina_warning_herold_can_publish_is_refused_with_a_short_reason(
    data: bytes, expected: str
) -> None:
    message = refusal(data)
    assert expected in message
    assert len(message) <= 300  # an answer, never the payload


def test_a_refusal_quotes_nothing_of_the_warning_at_length() -> None:
    for data in (b"{" + b'"x' * 5000, minimal(alert(identifier="x " * 5000)), minimal(info(severity="x" * 5000))):
        message = refusal(data)
        assert 0 < len(message) <= 300 and "x" * 100 not in message


# --- whatever arrives ---------------------------------------------------------------------------

SAMPLE = json.loads(SIEGEN)  # an update: references, parameters, a long polygon, <br/>s


def paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where values are in the sample: every key and list item, however deep."""
    inner: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        inner = [found for key, item in value.items() for found in paths(item, (*path, key))]
    elif isinstance(value, list):
        inner = [found for number, item in enumerate(value) for found in paths(item, (*path, number))]
    return [path, *inner] if path else inner


PATHS = paths(SAMPLE)


def at(warning: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        warning = warning[step]
    return warning


TEXTS = [path for path in PATHS if isinstance(at(SAMPLE, path), str)]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=10),
    st.sampled_from(["", "Z", "2024-03-12T09:15:00Z", "-1.0,-1.0", "9.0,52.0 9.0,52.0", "Ack", "DE", "<br/>", "&amp;"]),
)
strings = scalars.filter(lambda value: isinstance(value, str))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The update sample with texts replaced, values swapped for others of any JSON type, keys
    dropped; then perhaps bytes flipped, deleted or inserted, or the whole cut short."""
    warning = json.loads(json.dumps(SAMPLE))
    for _ in range(draw(st.integers(1, 4))):
        # Most changes keep the JSON's types, so they reach the schema and the mapping.
        change = draw(st.sampled_from(["text", "text", "text", "swap", "drop"]))
        *parents, last = draw(st.sampled_from(TEXTS if change == "text" else PATHS))
        try:
            container = at(warning, tuple(parents))
            if change == "drop" and isinstance(container, dict):
                del container[last]
            else:
                container[last] = draw(strings if change == "text" else values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change took this path away
    data = bytearray(json.dumps(warning, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        change = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        where = draw(st.integers(0, len(data) - 1)) if data else 0
        if change == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif change == "delete":
            del data[where : where + draw(st.integers(1, 64))]
        elif change == "insert":
            data[where:where] = draw(st.sampled_from([b"[", b"{", b'"', b",", b"\\u0000", b"\xc3", b"null", b"<br/>"]))
        else:
            del data[where:]
    return bytes(data)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_mowas_warning_is_taken_or_refused_with_a_cap_error_never_anything_else(data: bytes) -> None:
    try:
        warning = parse_nina(data)
    except CapError as error:
        message = str(error)
        assert 0 < len(message) <= 300
    else:
        assert warning.document["kind"] == "warning" and warning.source_id.startswith(warning.sender)


@settings(max_examples=200, deadline=None, database=None)
@given(values)
def test_any_json_value_but_a_warning_is_refused_with_a_cap_error(value: Any) -> None:
    with pytest.raises(CapError):
        parse_nina(json.dumps(value).encode("utf-8", "surrogatepass"))
