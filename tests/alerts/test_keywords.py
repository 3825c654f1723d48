"""SMS keywords: every word of the table, spelled as patients type it, through the real webhook."""

import pytest

from alerts import keywords
from alerts.keywords import KEYWORDS, Keyword, classify
from tests.alerts.test_webhooks import INBOUND, signed_post, twilio_settings  # noqa: F401 (autouse)

ACCENTED = {
    "ARRET": "Arrêt",
    "ARRETE": "arrêté",
    "ARRETER": "Arrêter",
    "DESABONNER": "désabonner",
    "DESINSCRIRE": "Désinscrire",
    "DESABONNEMENT": "désabonnement",
    "DESINSCRIPTION": "désinscription",
    "NOMAS": "no más",
}
SPLIT = {"STOPALL": "STOP ALL", "OPTOUT": "opt-out", "NOMAS": "No Mas"}


def spellings(word: str) -> list[str]:
    """How a patient may type `word`: case, spaces, punctuation, accents, split words."""
    found = [
        word,
        word.lower(),
        word.title(),
        f"  {word}  ",
        f"{word}.",
        f"{word.lower()}!",
        f'"{word}"',
    ]
    found.append(f"\n{word.lower()} \N{WHITE HEAVY CHECK MARK}")
    if word in ACCENTED:
        found += [ACCENTED[word], ACCENTED[word].upper(), ACCENTED[word] + " !"]
    if word in SPLIT:
        found += [SPLIT[word], SPLIT[word].lower(), SPLIT[word].replace(" ", "_")]
    return found


@pytest.mark.parametrize("word", sorted(KEYWORDS))
def test_every_keyword_is_recognised_however_it_is_typed(word):
    meaning = KEYWORDS[word][0]

    assert {text: classify(text) for text in spellings(word)} == dict.fromkeys(
        spellings(word), meaning
    )


@pytest.mark.parametrize(
    "text",
    ["please stop", "stop sending me these", "STOP PLEASE", "I want to cancel my scan", "yes I will come",
     "stoop", "start date?", "", "   ", "?", "thanks", "helpful"],
)  # fmt: skip
def test_a_sentence_or_a_near_miss_is_not_a_keyword(text):
    assert classify(text) is None


def test_the_table_holds_the_carrier_and_regulator_sets_and_each_template_language():
    opt_out = {word for word, (meaning, _) in KEYWORDS.items() if meaning == Keyword.OPT_OUT}
    opt_in = {word for word, (meaning, _) in KEYWORDS.items() if meaning == Keyword.OPT_IN}
    helps = {word for word, (meaning, _) in KEYWORDS.items() if meaning == Keyword.HELP}
    languages = {language for _, language in KEYWORDS.values()}

    # Twilio's defaults and the FCC's revocation words (47 CFR 64.1200(a)(10)).
    assert {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    } <= opt_out
    assert opt_in == {"START", "YES", "UNSTOP"}
    assert {"HELP", "INFO"} <= helps
    assert {"carrier", "en", "pt", "es", "fr"} - {"en"} <= languages
    # Every stored keyword is already in its normalised form, so lookups can find it.
    assert all(keywords.normalise(word) == word for word in KEYWORDS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", ["REVOKE", "Arrêt", "arrêter", "Parar", "SAIR", "baja", "Stop all", "opt out"]
)
def test_a_signed_opt_out_word_withdraws_sms_consent(client, course, body):
    response = signed_post(
        client, INBOUND, {"From": course.patient.phone, "Body": body, "MessageSid": "SM1"}
    )

    assert response.status_code == 200
    course.patient.refresh_from_db()
    assert course.patient.sms_consent is False


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "word"), [("en", "HELP"), ("fr", "Aide"), ("pt", "ajuda")])
def test_a_help_word_is_answered_in_the_patients_language_and_keeps_consent(
    client, course, language, word, settings
):
    course.patient.language = language
    course.patient.save()

    response = signed_post(client, INBOUND, {"From": course.patient.phone, "Body": word})

    expected = keywords.HELP_REPLY[language].format(phone=settings.NETCARE_CLINIC_PHONE)
    assert response.status_code == 200
    assert f"<Message>{expected}</Message>".encode() in response.content
    course.patient.refresh_from_db()
    assert course.patient.sms_consent is True
