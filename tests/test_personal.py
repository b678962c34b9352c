"""The privacy guard's personal-data rules (publisher.core.personal): each kind of personal data
is found in German notations in every text field; what only looks like it (times, dates of
events, postcodes, road numbers, emergency numbers, officials in their role) and the authority's
own contacts pass."""

from __future__ import annotations

import phonenumbers
import pytest

from publisher.core.personal import Finding, personal_data, texts_of
from publisher.domain.announcement import parse_announcement

from conftest import news, warning

OFFICIAL = ("presse@lk-beispiel.de", "+49 6151 12-3456", "06151 881234", "DE02 1203 0000 0000 2020 51")


@pytest.mark.parametrize(
    ("field", "text", "kind", "excerpt"),
    [
        # e-mail addresses
        ("description", "Rückfragen an max.mustermann@gmail.com richten.", "email", "m…@gmail.com"),
        ("contact", "M.Mueller@Example.DE", "email", "m…@example.de"),
        ("instruction", "Schreiben Sie an anna(at)web.de.", "email", "a…@web.de"),
        ("translations.en.description", "Contact jane_doe+news@mail.example.org", "email", "j…@mail.example.org"),
        ("media.0.alt", "Zettel mit der Adresse k.schulz@t-online.de", "email", "k…@t-online.de"),
        # phone numbers
        ("description", "Erreichbar unter 0171 1234567.", "phone", "+49 171 …67"),
        ("description", "Handy 0171/1234567", "phone", "+49 171 …67"),
        ("contact", "+49 171 1234567", "phone", "+49 171 …67"),
        ("instruction", "Melden Sie sich unter (06151) 55 44 33.", "phone", "+49 6151 …33"),
        ("headline", "Zeugen bitte unter 06151-778899 melden", "phone", "+49 6151 …99"),
        ("translations.en.instruction", "Call 0049 160 9876543", "phone", "+49 160 …43"),
        ("area.description", "Hof von Familie K., Tel. 06151 / 98 76 54", "phone", "+49 6151 …54"),
        ("media.1.alt", "Schild mit 0221 4711471", "phone", "+49 221 …71"),
        ("description", "Fragen per WhatsApp: https://wa.me/491711234567", "phone", "+49 171 …67"),
        ("instruction", "Chat: https://api.whatsapp.com/send?phone=491711234567", "phone", "+49 171 …67"),
        ("contact", "https://signal.me/#p/+491711234567", "phone", "+49 171 …67"),
        # IBANs
        ("description", "Spenden an DE89 3704 0044 0532 0130 00 (Kontoinhaber privat)", "iban", "DE89 …00"),
        ("description", "IBAN: DE89370400440532013000.", "iban", "DE89 …00"),
        ("contact", "Konto AT61 1904 3002 3457 3201", "iban", "AT61 …01"),
        ("translations.en.description", "Account de89 3704 0044 0532 0130 00", "iban", "DE89 …00"),
        # dates of birth
        ("description", "Anna S., geb. 12.03.1985, wird gesucht.", "birth_date", "geb. …85"),
        ("description", "Der Mann, geboren am 12. März 1985, ist wohlauf.", "birth_date", "geboren …85"),
        ("instruction", "Geburtsdatum: 12.03.1985", "birth_date", "Geburtsdatum …85"),
        ("media.0.alt", "Foto von Lea M. (*12.03.2011)", "birth_date", "*…11"),
        ("area.description", "Hausbewohner (geb. am 1.2.54)", "birth_date", "geb. …54"),
        # vehicle registration plates
        ("description", "Gesucht wird ein Pkw mit dem Kennzeichen DA-AB 1234.", "plate", "DA-AB …4"),
        ("description", "Der Transporter (F-XY 123E) ist flüchtig.", "plate", "F-XY …3E"),
        ("instruction", "Fahrzeug: M AB 1234", "plate", "M AB …4"),
        ("headline", "Kfz B-A 12 gestohlen", "plate", "B-A …2"),
        ("media.0.alt", "Unfallwagen DA-XY 77", "plate", "DA-XY …7"),
        ("translations.en.description", "Car with plate HH-AB 12H", "plate", "HH-AB …2H"),
        # private persons with an age, or health, arrest or death words
        ("description", "Frau Müller (45) wurde verletzt.", "person", "Frau M…"),
        ("description", "Herr Thomas K., 52, wurde festgenommen.", "person", "Herr Thomas K…"),
        ("description", "Der 34-jährige Max Mustermann wurde leicht verletzt.", "person", "Max M…"),
        ("headline", "Anna Schmidt ist verstorben", "person", "Anna S…"),
        ("instruction", "Die Polizei sucht die 14-jährige Lea M.", "person", "Lea M…"),
        ("description", "Frau Dr. Müller wurde ins Krankenhaus gebracht.", "person", "Frau M…"),
        ("description", "Familie Meier wurde schwer verletzt geborgen.", "person", "Familie M…"),
        ("description", "Der Fahrer Jürgen Becker wurde reanimiert.", "person", "Jürgen B…"),
        ("translations.en.description", "Herr Yilmaz was arrested (festgenommen).", "person", "Herr Y…"),
        ("media.0.alt", "Peter W. wird seit Montag vermisst", "person", "Peter W…"),
        ("area.description", "Wohnung von Herrn Klein, der tot aufgefunden wurde", "person", "Herrn K…"),
        ("description", "Die Schwerverletzte Maria Lopez wurde geborgen.", "person", "Maria L…"),
        ("description", "Max Mustermann, 34, aus Darmstadt wird vermisst.", "person", "Max M…"),
        ("description", "Der Tatverdächtige Jan P. wurde in Gewahrsam genommen.", "person", "Jan P…"),
        ("description", "Landrätin Anna Schmidt war vor Ort. Herr Meier kam ins Krankenhaus.", "person", "Herr M…"),
        ("description", "İzmir-Urlauber Frau Öztürk wurde verletzt.", "person", "Frau Ö…"),
    ],
)
def test_personal_data_is_found(field: str, text: str, kind: str, excerpt: str) -> None:
    findings = personal_data({field: text}, OFFICIAL)

    assert [(f.field, f.kind, f.excerpt) for f in findings] == [(field, kind, excerpt)]


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("description", "Die Sperrung beginnt um 10:30 Uhr."),
        ("description", "Die Entschärfung ist am 12.03.2026 um 9 Uhr geplant."),
        ("area.description", "64283 Darmstadt, Marktstraße 12 bis 20"),
        ("instruction", "Die Buslinie 3 und 7 fahren eine Umleitung."),
        ("description", "Betroffen sind die Häuser Nr. 5 bis Nr. 17 der Rheinstraße."),
        ("description", "Warnung 2.49.0.0.276.0.DWD.PVW.1700000000000.abc, Warncell-ID 106411000, AGS 064110000000"),
        ("contact", "presse@lk-beispiel.de, Telefon +49 6151 12-3456"),
        ("contact", "PRESSE@LK-Beispiel.de, Tel. (06151) 12 34 56, Bürgertelefon 06151 881234"),
        ("description", "Spendenkonto des Landkreises: DE02 1203 0000 0000 2020 51"),
        ("description", "Seit 1985 und im Jahr 2026 ist das der größte Fund."),
        ("description", "Rund 80 % der Haushalte, also 95 Prozent der Fläche, sind betroffen."),
        ("headline", "Vollsperrung der B 26 zwischen Darmstadt und Dieburg"),
        ("headline", "Unfall auf der A 5, A-5 Richtung Frankfurt gesperrt, Pkw auf der BAB A 67"),
        ("instruction", "Im Notfall: Tel. 112, Polizei 110, Behördennummer 115, ärztlicher Notdienst 116117"),
        ("contact", "Bürgertelefon 0800 1234567 (kostenfrei), Servicenummer 0180 6 123456, Hotline 0900 1234567"),
        ("description", "IBAN DE88 3704 0044 0532 0130 00 (Prüfziffer falsch)"),
        ("description", "Am 12. März 1985 wurde das Werk gebaut; Geburtstag der Feuerwehr ist am 12.03."),
        ("description", "Ein 34-jähriger Mann wurde verletzt, eine 80-jährige Frau kam ins Krankenhaus."),
        ("description", "Familie Meier wurde evakuiert."),
        ("description", "Herr Müller vom Ordnungsamt informiert die Anwohner."),
        ("description", "Landrat Dr. Schmidt besuchte die Verletzten im Krankenhaus."),
        ("description", "Pressesprecherin Anna Schmidt: Drei Personen wurden verletzt."),
        ("description", "Anna Schmidt, Sprecherin der Polizei, sagte: Zwei Menschen wurden verletzt."),
        ("description", "Das Elisabeth Krankenhaus nimmt Verletzte auf; die St. Martin Kirche ist offen."),
        ("description", "Die Feuerwehr Darmstadt meldet zwei Verletzte."),
        ("area.description", "Max-Planck-Straße, Karl Marx Allee und Anne-Frank-Platz"),
        ("translations.en.description", "Road closed from 10:30, postcode 64283, line 3 and 7."),
        ("media.0.alt", "Einsatzfahrzeuge vor dem Kreishaus, Kfz-Zulassung in Raum A 12"),
        ("description", "Verordnung EU-VO 2016/679 (DSGVO) gilt; Aktenzeichen 123/4567."),
        ("description", "Mehr unter https://www.lk-beispiel.de/presse/0615112345678 und www.example.de/0171-1234567"),
        ("description", "Termine:\n* 12.03.2026 Probealarm"),
        ("description", "Anna Schmidt leitet die Kita. Im Krankenhaus werden drei Personen behandelt."),
        ("description", "Anna Schmidt blieb unverletzt."),
        ("description", "Feuerwehr: Thomas Becker (Kreisbrandinspektor) berichtet von zwei Verletzten."),
        ("contact", "Leitung: Thomas\nVerletzte: keine"),
        ("description", "Maria Himmelfahrt ist Feiertag; am Tag wurden 3 Menschen verletzt."),
        ("description", "Unser Kanal: https://t.me/+12345678AbCdEfGh (eine Einladung, keine Nummer)"),
    ],
)
def test_what_only_looks_like_personal_data_passes(field: str, text: str) -> None:
    assert personal_data({field: text}, OFFICIAL) == []


@pytest.mark.parametrize(
    ("official", "text"),
    [
        ("presse@lk-beispiel.de", "Presse@LK-Beispiel.DE"),
        ("+49 6151 12-3456", "06151 123456"),
        ("06151 123456", "+49 (0) 6151 12 34 56"),
        ("(06151) 12 34 56", "0049 6151 123456"),
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ],
)
def test_an_official_contact_passes_however_it_is_written(official: str, text: str) -> None:
    assert personal_data({"contact": text}, [official]) == []
    assert [f.kind for f in personal_data({"contact": text})] != []


def test_findings_come_by_field_then_position_and_say_what_and_why_in_both_languages() -> None:
    texts = {
        "headline": "Kennzeichen DA-AB 1234",
        "description": "Anrufe an 0171 1234567 oder m.meier@example.de",
    }

    findings = personal_data(texts)

    assert [(f.field, f.kind) for f in findings] == [
        ("headline", "plate"),
        ("description", "phone"),
        ("description", "email"),
    ]
    assert findings[2] == Finding(
        field="description",
        kind="email",
        excerpt="m…@example.de",
        message_de="enthält eine E-Mail-Adresse (m…@example.de), die nicht als offizieller Kontakt freigegeben ist",
        message_en="contains an e-mail address (m…@example.de) that is not an approved official contact",
    )
    for finding in findings:
        assert finding.excerpt in finding.message_de
        assert finding.excerpt in finding.message_en
    # what is found is never in the messages whole (they end up in logs)
    assert not any("1234567" in f.message_de + f.message_en for f in findings)


def test_phone_numbers_are_those_the_matcher_finds_in_the_whole_text() -> None:
    # The guard runs the matcher only on stretches around six digits or more: it must find the same.
    text = (
        "Am 12.03.2026 um 10:30 Uhr in 64283 Darmstadt (Rheinstraße 12) sind 3.500 Menschen betroffen. "
        "Bürgertelefon +49 (0) 6151 12 34 56, mobil 0171/1234567; Fax 06151-98 76 54. Notruf 112, 116117. "
        "Linien 2, 6 und 9; B 26; A 5. Rückruf unter 0049 221 4711471 oder 030 901820 (Zentrale)."
    )

    expected = {
        phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164)
        for found in phonenumbers.PhoneNumberMatcher(text, "DE", leniency=phonenumbers.Leniency.VALID)
    }
    findings = personal_data({"description": text})

    assert len(expected) == 5
    assert [f.kind for f in findings] == ["phone"] * len(expected)


def test_a_person_finding_names_the_reason() -> None:
    (aged,) = personal_data({"description": "Frau Müller (45) blieb zu Hause."})
    (hurt,) = personal_data({"description": "Anna Schmidt wurde schwer verletzt."})

    assert "mit Altersangabe" in aged.message_de
    assert "with an age" in aged.message_en
    assert "„verletzt“" in hurt.message_de
    assert "“verletzt”" in hurt.message_en


def test_the_same_data_twice_in_a_field_is_one_finding() -> None:
    findings = personal_data({"description": "0171 1234567, nochmals: 0171/1234567"})

    assert len(findings) == 1


def test_texts_of_collects_every_free_text_field() -> None:
    announcement = parse_announcement(
        warning(
            contact="Pressestelle",
            attribution="Deutscher Wetterdienst",
            note="Aktualisiert eine hier nicht veröffentlichte Warnung.",
            translations={"en": {"headline": "Bomb", "description": "Found.", "instruction": "Leave."}},
            media=[{"path": "a.jpg", "alt": "Absperrung"}, {"path": "b.jpg", "alt": "Karte"}],
        )
    )

    assert texts_of(announcement) == {
        "headline": "Fliegerbombe in der Altstadt",
        "description": "Bei Bauarbeiten wurde eine Fliegerbombe gefunden. Sie wird heute entschärft.",
        "instruction": "Verlassen Sie das Sperrgebiet bis 10 Uhr.",
        "contact": "Pressestelle",
        "area.description": "Altstadt rund um die Marktstraße",
        "event": "Bombenentschärfung",
        "attribution": "Deutscher Wetterdienst",
        "note": "Aktualisiert eine hier nicht veröffentlichte Warnung.",
        "translations.en.headline": "Bomb",
        "translations.en.description": "Found.",
        "translations.en.instruction": "Leave.",
        "media.0.alt": "Absperrung",
        "media.1.alt": "Karte",
    }


def test_texts_of_leaves_out_fields_that_are_not_there() -> None:
    announcement = parse_announcement(news())

    assert set(texts_of(announcement)) == {"headline", "description"}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Erreichbar unter 0171\u202f234\u202f5678.", "phone"),
        ("Erreichbar unter 0171\u00a02345678.", "phone"),
        ("Schreiben Sie an max.mustermann\u200b@gmx.de.", "email"),
    ],
)
def test_text_pasted_with_odd_spaces_or_invisible_characters_is_found_like_plain_text(text: str, kind: str) -> None:
    assert [f.kind for f in personal_data({"description": text})] == [kind]
