"""Screen-reader sentences and the number and date formats inside them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from milestones.domain import Definition, MetricType, Milestone, Status, milestone_id
from milestones.wording.labels import accessibility_label, description_of, format_date, format_number

HOURS = MetricType.HOURS_LOGGED
CONTACTS = MetricType.CONTACTS_HELPED
ACTIVITIES = MetricType.ACTIVITY_COUNT
JULY_14 = datetime(2025, 7, 14, 23, 59, 59, tzinfo=UTC)


def achieved(metric: MetricType, threshold: str, at: datetime = JULY_14) -> Milestone:
    return Milestone(
        id=milestone_id("mentor_001", "k"),
        mentor_id="mentor_001",
        definition_key="k",
        name="k",
        type=metric,
        threshold=Decimal(threshold),
        position=0,
        status=Status.ACHIEVED,
        current_value=Decimal(threshold),
        achieved_value=Decimal(threshold),
        achieved_at=at,
    )


def working(metric: MetricType, current: str, threshold: str) -> Milestone:
    return Milestone(
        id=milestone_id("mentor_001", "k"),
        mentor_id="mentor_001",
        definition_key="k",
        name="k",
        type=metric,
        threshold=Decimal(threshold),
        position=0,
        status=Status.IN_PROGRESS,
        current_value=Decimal(current),
    )


@pytest.mark.parametrize(
    ("milestone", "sentence"),
    [
        pytest.param(
            achieved(HOURS, "100"), "You reached 100 hours of mentoring on July 14, 2025", id="hours-achieved"
        ),
        pytest.param(
            achieved(CONTACTS, "50"), "You reached 50 unique contacts on July 14, 2025", id="contacts-achieved"
        ),
        pytest.param(
            achieved(ACTIVITIES, "100"),
            "You reached 100 mentoring activities on July 14, 2025",
            id="activities-achieved",
        ),
        pytest.param(
            working(HOURS, "312.5", "500"),
            "You have logged 312.5 out of 500 hours of mentoring, 187.5 remaining",
            id="hours-in-progress",
        ),
        pytest.param(
            working(CONTACTS, "47", "50"),
            "You have helped 47 out of 50 unique contacts, 3 remaining",
            id="contacts-in-progress",
        ),
        pytest.param(
            working(ACTIVITIES, "198", "250"),
            "You have completed 198 out of 250 mentoring activities, 52 remaining",
            id="activities-in-progress",
        ),
        pytest.param(
            working(HOURS, "1250.50", "2500.00"),
            "You have logged 1,250.5 out of 2,500 hours of mentoring, 1,249.5 remaining",
            id="hours-grouped",
        ),
        pytest.param(
            working(HOURS, "120", "100"),
            "You have logged 120 out of 100 hours of mentoring, 0 remaining",
            id="over-threshold-never-negative",
        ),
        pytest.param(
            achieved(HOURS, "1000", datetime(2026, 1, 3, 0, 0, tzinfo=UTC)),
            "You reached 1,000 hours of mentoring on January 3, 2026",
            id="hours-achieved-grouped",
        ),
    ],
)
def test_accessibility_label(milestone: Milestone, sentence: str) -> None:
    assert accessibility_label(milestone) == sentence


@pytest.mark.parametrize(
    ("milestone", "sentence"),
    [
        pytest.param(achieved(HOURS, "1"), "You reached 1 hour of mentoring on July 14, 2025", id="hour-achieved"),
        pytest.param(achieved(CONTACTS, "1"), "You reached 1 unique contact on July 14, 2025", id="contact-achieved"),
        pytest.param(
            achieved(ACTIVITIES, "1"),
            "You reached 1 mentoring activity on July 14, 2025",
            id="activity-achieved",
        ),
        pytest.param(
            working(HOURS, "0.5", "1"),
            "You have logged 0.5 out of 1 hour of mentoring, 0.5 remaining",
            id="hour-in-progress",
        ),
        pytest.param(
            working(CONTACTS, "0", "1"),
            "You have helped 0 out of 1 unique contact, 1 remaining",
            id="contact-in-progress",
        ),
        pytest.param(
            working(ACTIVITIES, "0", "1.00"),
            "You have completed 0 out of 1 mentoring activity, 1 remaining",
            id="activity-in-progress",
        ),
    ],
)
def test_accessibility_label_is_singular_for_a_threshold_of_one(milestone: Milestone, sentence: str) -> None:
    assert accessibility_label(milestone) == sentence


def test_accessibility_label_date_comes_from_achieved_at() -> None:
    first = accessibility_label(achieved(HOURS, "100", datetime(2025, 7, 14, 0, 0, tzinfo=UTC)))
    last = accessibility_label(achieved(HOURS, "100", datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)))
    assert first.endswith("on July 14, 2025")
    assert last.endswith("on December 31, 2025")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("312.50", "312.5"),
        ("100.00", "100"),
        ("100", "100"),
        ("1000", "1,000"),
        ("1000.00", "1,000"),
        ("1234567.50", "1,234,567.5"),
        ("0.25", "0.25"),
        ("0.5", "0.5"),
        ("0", "0"),
        ("0.00", "0"),
        ("10.0", "10"),
        ("1E+3", "1,000"),
        ("2.5E+1", "25"),
    ],
)
def test_format_number(value: str, text: str) -> None:
    assert format_number(Decimal(value)) == text


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 1, 3, 12, 0, tzinfo=UTC), "January 3, 2026"),
        (datetime(2025, 2, 28, tzinfo=UTC), "February 28, 2025"),
        (datetime(2025, 3, 1, tzinfo=UTC), "March 1, 2025"),
        (datetime(2025, 4, 10, tzinfo=UTC), "April 10, 2025"),
        (datetime(2025, 5, 5, tzinfo=UTC), "May 5, 2025"),
        (datetime(2025, 6, 6, tzinfo=UTC), "June 6, 2025"),
        (datetime(2025, 7, 14, 23, 59, 59, tzinfo=UTC), "July 14, 2025"),
        (datetime(2025, 8, 8, tzinfo=UTC), "August 8, 2025"),
        (datetime(2025, 9, 9, tzinfo=UTC), "September 9, 2025"),
        (datetime(2025, 10, 10, tzinfo=UTC), "October 10, 2025"),
        (datetime(2025, 11, 11, tzinfo=UTC), "November 11, 2025"),
        (datetime(2025, 12, 31, tzinfo=UTC), "December 31, 2025"),
    ],
)
def test_format_date(moment: datetime, text: str) -> None:
    assert format_date(moment) == text


def test_format_date_uses_the_utc_date() -> None:
    from datetime import timedelta, timezone

    late_in_utc = datetime(2025, 7, 15, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert format_date(late_in_utc) == "July 14, 2025"


@pytest.mark.parametrize(
    ("metric", "threshold", "sentence"),
    [
        (HOURS, "100", "Log 100 hours of mentoring."),
        (HOURS, "12.5", "Log 12.5 hours of mentoring."),
        (HOURS, "1", "Log 1 hour of mentoring."),
        (CONTACTS, "1000", "Help 1,000 unique contacts."),
        (CONTACTS, "1", "Help 1 unique contact."),
        (ACTIVITIES, "250", "Complete 250 mentoring activities."),
    ],
)
def test_a_definition_without_a_description_gets_one_worded_from_it(
    metric: MetricType, threshold: str, sentence: str
) -> None:
    assert description_of(Definition("k", "K", metric, Decimal(threshold), 0)) == sentence


def test_a_catalog_description_is_kept_as_written() -> None:
    given = Definition("k", "K", HOURS, Decimal(100), 0, description="A hundred hours.")
    assert description_of(given) == "A hundred hours."


# --- other languages -----------------------------------------------------------------------------------
# Every language at the values the issue names: 0, 1, 1.5, 2, 21 and 1,000. French and Brazilian Portuguese
# count 0 and 1.5 as singular (CLDR), Spanish writes 1000 ungrouped (CLDR's minimum grouping digits).
PLURAL_VALUES = ("0", "1", "1.5", "2", "21", "1000")
REACHED_HOURS: dict[str, tuple[str, ...]] = {
    "en": (
        "You reached 0 hours of mentoring on July 14, 2025",
        "You reached 1 hour of mentoring on July 14, 2025",
        "You reached 1.5 hours of mentoring on July 14, 2025",
        "You reached 2 hours of mentoring on July 14, 2025",
        "You reached 21 hours of mentoring on July 14, 2025",
        "You reached 1,000 hours of mentoring on July 14, 2025",
    ),
    "es": (
        "Alcanzaste 0 horas de mentoría el 14 de julio de 2025",
        "Alcanzaste 1 hora de mentoría el 14 de julio de 2025",
        "Alcanzaste 1,5 horas de mentoría el 14 de julio de 2025",
        "Alcanzaste 2 horas de mentoría el 14 de julio de 2025",
        "Alcanzaste 21 horas de mentoría el 14 de julio de 2025",
        "Alcanzaste 1000 horas de mentoría el 14 de julio de 2025",
    ),
    "fr": (
        "Vous avez atteint 0 heure de mentorat le 14 juillet 2025",
        "Vous avez atteint 1 heure de mentorat le 14 juillet 2025",
        "Vous avez atteint 1,5 heure de mentorat le 14 juillet 2025",
        "Vous avez atteint 2 heures de mentorat le 14 juillet 2025",
        "Vous avez atteint 21 heures de mentorat le 14 juillet 2025",
        "Vous avez atteint 1\u202f000 heures de mentorat le 14 juillet 2025",
    ),
    "de": (
        "Am 14. Juli 2025 haben Sie 0 Stunden Mentoring erreicht",
        "Am 14. Juli 2025 haben Sie 1 Stunde Mentoring erreicht",
        "Am 14. Juli 2025 haben Sie 1,5 Stunden Mentoring erreicht",
        "Am 14. Juli 2025 haben Sie 2 Stunden Mentoring erreicht",
        "Am 14. Juli 2025 haben Sie 21 Stunden Mentoring erreicht",
        "Am 14. Juli 2025 haben Sie 1.000 Stunden Mentoring erreicht",
    ),
    "pt_BR": (
        "Você alcançou 0 hora de mentoria em 14 de julho de 2025",
        "Você alcançou 1 hora de mentoria em 14 de julho de 2025",
        "Você alcançou 1,5 hora de mentoria em 14 de julho de 2025",
        "Você alcançou 2 horas de mentoria em 14 de julho de 2025",
        "Você alcançou 21 horas de mentoria em 14 de julho de 2025",
        "Você alcançou 1.000 horas de mentoria em 14 de julho de 2025",
    ),
}


@pytest.mark.parametrize("language", list(REACHED_HOURS))
@pytest.mark.parametrize(("position", "value"), list(enumerate(PLURAL_VALUES)))
def test_reached_labels_in_every_language(language: str, position: int, value: str) -> None:
    assert accessibility_label(achieved(HOURS, value), language=language) == REACHED_HOURS[language][position]


# The remaining phrase follows the remaining value: Spanish and Portuguese "falta 1" but "faltan 2".
REMAINING_CONTACTS: dict[str, tuple[str, ...]] = {
    "en": tuple(
        f"You have helped 0 out of 50 unique contacts, {n} remaining" for n in ("0", "1", "1.5", "2", "21", "1,000")
    ),
    "es": tuple(
        f"Ayudaste a 0 de 50 contactos únicos, {word} {n}"
        for word, n in (
            ("faltan", "0"),
            ("falta", "1"),
            ("faltan", "1,5"),
            ("faltan", "2"),
            ("faltan", "21"),
            ("faltan", "1000"),
        )
    ),
    "fr": tuple(
        f"Vous avez aidé 0 sur 50 contacts uniques, il en reste {n}" for n in ("0", "1", "1,5", "2", "21", "1\u202f000")
    ),
    "de": tuple(
        f"Sie haben 0 von 50 verschiedenen Kontakten geholfen, noch {n} offen"
        for n in ("0", "1", "1,5", "2", "21", "1.000")
    ),
    "pt_BR": tuple(
        f"Você ajudou 0 de 50 contatos únicos, {word} {n}"
        for word, n in (
            ("falta", "0"),
            ("falta", "1"),
            ("falta", "1,5"),
            ("faltam", "2"),
            ("faltam", "21"),
            ("faltam", "1.000"),
        )
    ),
}


@pytest.mark.parametrize("language", list(REMAINING_CONTACTS))
@pytest.mark.parametrize(("position", "value"), list(enumerate(PLURAL_VALUES)))
def test_the_remaining_phrase_agrees_with_the_remaining_value(language: str, position: int, value: str) -> None:
    # Remaining is the threshold minus the current value; a current value of 0 and a threshold of 50 are held
    # in the sentence by building the progress by hand.
    from milestones.domain import Progress

    state = Progress(current_value=Decimal(0), percentage=0, remaining=Decimal(value))
    label = accessibility_label(working(CONTACTS, "0", "50"), state, language)
    assert label == REMAINING_CONTACTS[language][position]


GOALS: dict[str, tuple[str, ...]] = {
    "en": tuple(
        f"Complete {n} mentoring {'activity' if n == '1' else 'activities'}."
        for n in ("0", "1", "1.5", "2", "21", "1,000")
    ),
    "es": tuple(
        f"Completa {n} {'actividad' if n == '1' else 'actividades'} de mentoría."
        for n in ("0", "1", "1,5", "2", "21", "1000")
    ),
    "fr": tuple(
        f"Réalisez {n} {'activité' if n in ('0', '1', '1,5') else 'activités'} de mentorat."
        for n in ("0", "1", "1,5", "2", "21", "1\u202f000")
    ),
    "de": tuple(
        f"Schließen Sie {n} {'Mentoring-Aktivität' if n == '1' else 'Mentoring-Aktivitäten'} ab."
        for n in ("0", "1", "1,5", "2", "21", "1.000")
    ),
    "pt_BR": tuple(
        f"Conclua {n} {'atividade' if n in ('0', '1', '1,5') else 'atividades'} de mentoria."
        for n in ("0", "1", "1,5", "2", "21", "1.000")
    ),
}


@pytest.mark.parametrize("language", list(GOALS))
@pytest.mark.parametrize(("position", "value"), list(enumerate(PLURAL_VALUES)))
def test_worded_descriptions_in_every_language(language: str, position: int, value: str) -> None:
    rung = Definition("k", "k", ACTIVITIES, Decimal(value), 0)
    assert description_of(rung, language) == GOALS[language][position]


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("es", "Registraste 312,5 de 500 horas de mentoría, faltan 187,5"),
        ("fr", "Vous avez enregistré 312,5 sur 500 heures de mentorat, il en reste 187,5"),
        ("de", "Sie haben 312,5 von 500 Stunden Mentoring geleistet, noch 187,5 offen"),
        ("pt_BR", "Você registrou 312,5 de 500 horas de mentoria, faltam 187,5"),
    ],
)
def test_the_contracts_hours_example_in_every_language(language: str, sentence: str) -> None:
    assert accessibility_label(working(HOURS, "312.5", "500"), language=language) == sentence


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("es", "Alcanzaste 1.000.000 de horas de mentoría el 14 de julio de 2025"),
        ("fr", "Vous avez atteint 1\u202f000\u202f000 d\u2019heures de mentorat le 14 juillet 2025"),
        ("pt_BR", "Você alcançou 1.000.000 de horas de mentoria em 14 de julho de 2025"),
        ("de", "Am 14. Juli 2025 haben Sie 1.000.000 Stunden Mentoring erreicht"),
    ],
)
def test_a_million_takes_cldrs_many_category_where_there_is_one(language: str, sentence: str) -> None:
    assert accessibility_label(achieved(HOURS, "1000000"), language=language) == sentence


@pytest.mark.parametrize(
    ("language", "contacts", "activities"),
    [
        (
            "es",
            "Alcanzaste 50 contactos únicos el 14 de julio de 2025",
            "Completaste 198 de 250 actividades de mentoría, faltan 52",
        ),
        (
            "fr",
            "Vous avez atteint 50 contacts uniques le 14 juillet 2025",
            "Vous avez réalisé 198 sur 250 activités de mentorat, il en reste 52",
        ),
        (
            "de",
            "Am 14. Juli 2025 haben Sie 50 verschiedenen Kontakten geholfen",
            "Sie haben 198 von 250 Mentoring-Aktivitäten abgeschlossen, noch 52 offen",
        ),
        (
            "pt_BR",
            "Você alcançou 50 contatos únicos em 14 de julho de 2025",
            "Você concluiu 198 de 250 atividades de mentoria, faltam 52",
        ),
    ],
)
def test_contacts_and_activities_in_every_language(language: str, contacts: str, activities: str) -> None:
    assert accessibility_label(achieved(CONTACTS, "50"), language=language) == contacts
    assert accessibility_label(working(ACTIVITIES, "198", "250"), language=language) == activities


def test_packaged_names_and_descriptions_are_translated() -> None:
    from milestones.catalog import load_catalog
    from milestones.wording.labels import name_of

    hundred = next(d for d in load_catalog() if d.key == "100h")
    assert [name_of(hundred, language) for language in ("en", "es", "fr", "de", "pt_BR")] == [
        "100 Hours Milestone",
        "Hito de 100 horas",
        "Palier de 100 heures",
        "100-Stunden-Meilenstein",
        "Marco de 100 horas",
    ]
    assert description_of(hundred, "de") == "Hundert Stunden Mentoring: echtes Engagement für die Entwicklung anderer."
    assert description_of(hundred, "en") == "A hundred hours of mentoring: a real commitment to others' growth."


def test_a_name_no_catalog_knows_stays_english() -> None:
    from milestones.wording.labels import milestone_name, name_of

    own = Definition("own", "Night Owl", HOURS, Decimal(5), 0, description="Five hours after dark.")
    assert name_of(own, "fr") == "Night Owl"
    assert description_of(own, "fr") == "Five hours after dark."
    assert milestone_name(achieved(HOURS, "5"), None, "fr") == "k"


def test_a_catalogs_own_translation_comes_first() -> None:
    from milestones.domain import Translation
    from milestones.wording.labels import milestone_name, name_of

    own = Definition(
        "100h", "100 Hours Milestone", HOURS, Decimal(100), 0, translations=(Translation("es", "Cien horas"),)
    )
    assert name_of(own, "es") == "Cien horas"
    assert name_of(own, "fr") == "Palier de 100 heures"  # none of its own: the message catalog's
    # Without a description of its own in Spanish, the worded one in Spanish.
    assert description_of(own, "es") == "Registra 100 horas de mentoría."
    stored = achieved(HOURS, "100")
    assert milestone_name(stored, own, "es") == "Cien horas"
    assert milestone_name(stored, own, "en") == "k"  # English is the stored name, as before


def revoked(name: str = "100 Hours Milestone", at: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> Milestone:
    return Milestone(
        id=milestone_id("mentor_001", "100h"),
        mentor_id="mentor_001",
        definition_key="100h",
        name=name,
        type=HOURS,
        threshold=Decimal(100),
        position=0,
        status=Status.REVOKED,
        current_value=Decimal(120),
        achieved_value=Decimal(120),
        achieved_at=JULY_14,
        revoked_at=at,
        revocation_reason="Counted twice",
    )


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "Your 100 Hours Milestone was revoked on March 1, 2026"),
        ("de", "Ihr 100-Stunden-Meilenstein wurde am 1. März 2026 aberkannt"),
        ("es", "Se revocó tu Hito de 100 horas el 1 de marzo de 2026"),
        ("fr", "Votre Palier de 100 heures a été révoqué le 1 mars 2026"),
        ("pt_BR", "Seu Marco de 100 horas foi revogado em 1 de março de 2026"),
    ],
)
def test_a_revoked_milestones_label_names_it_and_the_day_in_every_language(language: str, sentence: str) -> None:
    assert accessibility_label(revoked(), language=language) == sentence


def test_a_revoked_milestones_label_takes_the_name_it_is_given() -> None:
    assert (
        accessibility_label(revoked(), language="es", name="Cien horas")
        == "Se revocó tu Cien horas el 1 de marzo de 2026"
    )
