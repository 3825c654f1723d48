"""Every message template: minimum-necessary wording, one SMS segment, preparation texts."""

import datetime as dt
import itertools

import pytest
import time_machine
from django.core import signing

from alerts import messages
from alerts.models import ReminderKind, Stage
from surveillance import schedule

DUE = dt.date(2026, 12, 31)
LINK = "https://netcare.example.org/webhooks/unsubscribe/abc:def/"
CASES = list(itertools.product(ReminderKind.values, Stage.values, messages.LANGUAGES))


@pytest.fixture(autouse=True)
def long_clinic_phone(settings):
    # The longest number we expect, so the length checks hold for any clinic.
    settings.NETCARE_CLINIC_PHONE = "+44 20 7946 0000 ext 123"


@pytest.mark.parametrize("kind,stage,language", CASES)
def test_every_sms_fits_one_gsm7_segment_and_names_no_diagnosis(kind, stage, language, settings):
    text = messages.render_sms(kind=kind, stage=stage, due_on=DUE, language=language)

    septets = messages.gsm7_septets(text)
    assert septets is not None, f"not GSM-7: {text!r}"
    assert septets <= messages.SMS_MAX_SEPTETS, f"{septets} septets: {text!r}"
    assert messages.diagnosis_words_in(text) == []
    assert settings.NETCARE_CLINIC_PHONE in text
    assert "STOP" in text
    assert "{" not in text and "%" not in text


@pytest.mark.parametrize("kind,stage,language", CASES)
def test_every_email_has_a_generic_subject_and_the_unsubscribe_link(kind, stage, language):
    email = messages.render_email(
        kind=kind, stage=stage, due_on=DUE, language=language, unsubscribe=LINK
    )

    assert messages.diagnosis_words_in(email.subject) == []
    assert len(email.subject) <= 78
    assert "\n" not in email.subject
    assert messages.diagnosis_words_in(email.body) == []
    assert LINK in email.body
    assert f'href="{LINK}"' in email.html_body
    assert "{" not in email.body and "&amp;" not in email.body and "&#x27;" not in email.body


def test_the_blood_test_email_carries_the_preparation_texts():
    english = messages.render_email(
        kind="cga_due", stage="advance", due_on=DUE, language="en", unsubscribe=LINK
    )
    scan = messages.render_email(
        kind="imaging_due", stage="advance", due_on=DUE, language="en", unsubscribe=LINK
    )

    assert schedule.PREPARATION_CGA in english.body
    assert schedule.PREPARATION_5HIAA in english.body
    assert "5-HIAA" not in scan.body
    for language in ("pt", "es", "fr"):
        body = messages.render_email(
            kind="cga_due", stage="due", due_on=DUE, language=language, unsubscribe=LINK
        ).body
        assert "5-HIAA" in body and "kiwi" in body


def test_the_wording_follows_the_stage_and_the_language():
    def sms(stage, language="en"):
        return messages.render_sms(kind="imaging_due", stage=stage, due_on=DUE, language=language)

    assert "your scan is due on 31 Dec 2026" in sms("advance")
    assert "your scan is due now (31 Dec 2026)" in sms("due")
    assert "your scan is overdue (due 31 Dec 2026)" in sms("overdue")
    assert "exame de imagem - data prevista 31/12/2026" in sms("advance", "pt")
    assert sms("advance", "xx") == sms("advance", "en")


def test_diagnosis_words_are_found_in_any_case_but_net_only_in_capitals():
    assert messages.diagnosis_words_in("Your TUMOUR marker") == ["TUMOUR"]
    assert messages.diagnosis_words_in("a NET follow-up") == ["NET"]
    assert messages.diagnosis_words_in("the internet, a network, net weight") == []
    assert messages.diagnosis_words_in("câncer, récidive") == ["câncer", "récidive"]


def test_text_outside_gsm7_is_spelled_with_gsm7_letters():
    assert messages.to_gsm7("análise, injeção, prévu, clínica — sí") == (
        "analise, injecao, prévu, clinica - si"
    )
    assert messages.gsm7_septets("ação") is None
    assert messages.gsm7_septets("[€]") == 6


def test_an_unsubscribe_token_names_its_patient_and_refuses_tampering():
    token = messages.unsubscribe_token(patient_id=42, channel="email")

    assert messages.read_unsubscribe_token(token) == (42, "email")
    with pytest.raises(signing.BadSignature):
        messages.read_unsubscribe_token(token.replace("e", "f", 1) + "x")


def test_every_kind_the_schedule_can_make_due_has_a_reminder_kind_and_a_text_in_each_language():
    for kind in schedule.Kind:
        reminder_kind = f"{kind}_due"
        assert reminder_kind in ReminderKind.values
        for language in messages.LANGUAGES:
            sms = messages.render_sms(
                kind=reminder_kind, stage="due", due_on=DUE, language=language
            )
            before_when = sms.split(":", 1)[1].strip()
            assert not before_when.startswith(("is ", "-", "est ", "está ")), sms  # a "what"


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("u5hiaa_due", {"en": "urine test", "pt": "urina", "es": "orina", "fr": "urine"}),
        ("echocardiography_due", {"en": "heart scan", "pt": "card", "es": "card", "fr": "card"}),
        ("vitamin_b12_due", {"en": "blood test", "pt": "sangue", "es": "sangre", "fr": "sang"}),
        ("prrt_labs_due", {"en": "blood test", "pt": "sangue", "es": "sangre", "fr": "sang"}),
        ("metabolic_panel_due", {"en": "blood test", "pt": "sangue", "es": "sangre", "fr": "sang"}),
    ],
)
def test_the_new_monitoring_reminders_name_only_a_generic_test(kind, words):
    for language, word in words.items():
        sms = messages.render_sms(kind=kind, stage="advance", due_on=DUE, language=language)
        assert word in sms
        for hidden in ("5-HIAA", "NT-proBNP", "B12", "vitamin", "PRRT", "echocardio"):
            assert hidden.casefold() not in sms.casefold()


def test_the_urine_test_email_carries_the_diet_preparation_in_every_language():
    english = messages.render_email(
        kind="u5hiaa_due", stage="advance", due_on=DUE, language="en", unsubscribe=LINK
    )
    assert schedule.PREPARATION_5HIAA in english.body
    for language in ("pt", "es", "fr"):
        body = messages.render_email(
            kind="u5hiaa_due", stage="due", due_on=DUE, language=language, unsubscribe=LINK
        ).body
        assert "5-HIAA" in body and "kiwi" in body and "tomat" in body
    blood = messages.render_email(
        kind="vitamin_b12_due", stage="due", due_on=DUE, language="en", unsubscribe=LINK
    )
    assert "kiwi" not in blood.body


@pytest.mark.parametrize("language", messages.LANGUAGES)
@time_machine.travel(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC), tick=False)
def test_a_batch_fills_each_text_once_rendered_exactly_as_rendering_it_for_the_reminder(language):
    """The dispatcher renders a text once per process and fills in the due date and the
    unsubscribe token; every message must read as if rendered on its own (the clock stands
    still, so both sign the same token)."""
    renderer = messages.Renderer()
    days = [dt.date(2026, 1, 5), DUE, dt.date(2027, 10, 12)]
    for kind, stage, due_on in itertools.product(ReminderKind.values, Stage.values, days):
        sms = renderer.build(
            reminder_id=1, channel="sms", kind=kind, stage=stage, due_on=due_on, patient_id=7,
            language=language, email="ana@example.org", phone="+447700900123", attempt=1,
        )  # fmt: skip
        assert sms.body == messages.render_sms(
            kind=kind, stage=stage, due_on=due_on, language=language
        )
        email = renderer.build(
            reminder_id=2, channel="email", kind=kind, stage=stage, due_on=due_on, patient_id=7,
            language=language, email="ana@example.org", phone="", attempt=1,
        )  # fmt: skip
        alone = messages.render_email(
            kind=kind, stage=stage, due_on=due_on, language=language,
            unsubscribe=messages.unsubscribe_url(patient_id=7, channel="email"),
        )  # fmt: skip
        assert (email.subject, email.body, email.html_body) == (
            alone.subject,
            alone.body,
            alone.html_body,
        )
