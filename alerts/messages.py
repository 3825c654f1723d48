"""What a reminder says: rendered from templates per language, minimum-necessary by design.

An SMS or an email subject can be read by anyone holding the phone or the inbox, so they say
only what is due and how to reach the clinic ("your scan is due"), never a diagnosis
(docs/operations.md, "Minimum-necessary messages"). SMS are kept to one GSM-7 segment: characters outside GSM-7 would
switch the whole message to UCS-2 and cut a segment to 70 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.urls import reverse

from surveillance import schedule

from . import conf
from .channels import Message
from .models import Channel, ReminderKind, Stage

LANGUAGES = ("en", "pt", "es", "fr")
DEFAULT_LANGUAGE = "en"
SMS_MAX_SEPTETS = 160

# Words that reveal a diagnosis or a disease state, in the four languages we write. Checked
# by the template tests on every SMS and subject; "NET" is matched in capitals only.
DIAGNOSIS_WORDS = (
    "tumour", "tumor", "tumeur", "cancer", "câncer", "cáncer", "cancro", "carcinoid",
    "carcinoide", "carcinoïde", "neuroendocrine", "neuroendócrino", "neuroendocrino",
    "oncology", "oncologia", "oncología", "oncologie", "recurrence",
    "recidiva", "récidive", "recurrencia", "recorrência", "relapse", "progression",
    "progressão", "progresión", "metastasis", "metástase", "metástasis", "métastase",
    "PRRT", "lutetium", "somatostatin", "octreotide", "lanreotide", "chemotherapy",
    "everolimus", "malignant", "maligno",
)  # fmt: skip
_DIAGNOSIS_RE = re.compile(
    r"\bNET\b|" + "|".join(rf"\b{re.escape(word)}\b" for word in DIAGNOSIS_WORDS),
    re.IGNORECASE,
)

# GSM 03.38: the basic set costs one septet, the extension table two (escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
_GSM7_LOOKALIKES = {"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-"}

# Reminders for a blood test other than chromogranin A: the texts name only "blood test", never
# the analyte (minimum-necessary wording).
BLOOD_TEST_KINDS = frozenset(
    {
        ReminderKind.NT_PROBNP_DUE,
        ReminderKind.VITAMIN_B12_DUE,
        ReminderKind.VITAMIN_D_DUE,
        ReminderKind.PRRT_LABS_DUE,
        ReminderKind.BLOOD_COUNTS_DUE,
        ReminderKind.METABOLIC_PANEL_DUE,
    }
)

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def diagnosis_words_in(text: str) -> list[str]:
    """Diagnosis words found in `text` ("NET" only in capitals, so "network" is fine)."""
    found = []
    for match in _DIAGNOSIS_RE.finditer(text):
        word = match.group(0)
        if word.upper() == "NET" and word != "NET":
            continue
        found.append(word)
    return found


def gsm7_septets(text: str) -> int | None:
    """Length of `text` in GSM-7 septets, or None if it needs UCS-2."""
    total = 0
    for char in text:
        if char in GSM7_BASIC:
            total += 1
        elif char in GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 by their closest GSM-7 spelling (ã -> a, ç -> c)."""
    out = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        elif char in _GSM7_LOOKALIKES:
            out.append(_GSM7_LOOKALIKES[char])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if c in GSM7_BASIC)
            out.append(base or "?")
    return "".join(out)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_date(day: date, language: str) -> str:
    """`day` as a reminder writes it: "3 Aug 2026" in English, "03/08/2026" otherwise."""
    # Numbers only outside English: month names would need accents (février, août) that
    # GSM-7 lacks, and an unambiguous day/month order is what each language expects.
    if language == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return day.strftime("%d/%m/%Y")


def language_of(value: str | None) -> str:
    """`value` if messages exist in that language (LANGUAGES), else DEFAULT_LANGUAGE."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def unsubscribe_token(*, patient_id: int, channel: str) -> str:
    """A signed token naming the patient and the channel (salt: ALERTS_UNSUBSCRIBE_SALT)."""
    return signing.dumps({"p": patient_id, "c": channel}, salt=conf.unsubscribe_salt())


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(patient id, channel) from a token; raises signing.BadSignature when tampered."""
    data = signing.loads(token, salt=conf.unsubscribe_salt())
    if not isinstance(data, dict) or data.get("c") not in Channel.values:
        raise signing.BadSignature("malformed unsubscribe token")
    return int(data["p"]), str(data["c"])


def unsubscribe_url(*, patient_id: int, channel: str) -> str:
    """The absolute one-click unsubscribe link (PUBLIC_BASE_URL) for the patient and channel."""
    token = unsubscribe_token(patient_id=patient_id, channel=channel)
    return settings.PUBLIC_BASE_URL + reverse("alerts:unsubscribe", args=[token])


@dataclass(frozen=True)
class Rendered:
    """A rendered email: plain-text body, subject and HTML body."""

    body: str
    subject: str = ""
    html_body: str = ""


def _context(*, kind: str, stage: str, due_on: date, language: str) -> dict[str, Any]:
    if kind not in ReminderKind.values:
        raise ValueError(f"no template for reminder kind {kind!r}")
    if stage not in Stage.values:
        raise ValueError(f"no template for stage {stage!r}")
    return {
        "kind": kind,
        "stage": stage,
        "due": format_date(due_on, language),
        "phone": settings.NETCARE_CLINIC_PHONE,
        # English preparation texts come from the clinical rules module, verbatim; the other
        # languages carry their translation in their templates.
        "preparation_cga": schedule.PREPARATION_CGA,
        "preparation_5hiaa": schedule.PREPARATION_5HIAA,
        "blood_kinds": BLOOD_TEST_KINDS,
    }


def render_sms(*, kind: str, stage: str, due_on: date, language: str) -> str:
    """The SMS text on one line in GSM-7; ValueError for an unknown kind or stage."""
    language = language_of(language)
    context = _context(kind=kind, stage=stage, due_on=due_on, language=language)
    return to_gsm7(_one_line(render_to_string(f"alerts/messages/{language}/sms.txt", context)))


def render_email(
    *, kind: str, stage: str, due_on: date, language: str, unsubscribe: str
) -> Rendered:
    """The email with `unsubscribe` as its link; ValueError for an unknown kind or stage."""
    language = language_of(language)
    context = _context(kind=kind, stage=stage, due_on=due_on, language=language)
    context["unsubscribe_url"] = unsubscribe
    subject = _one_line(render_to_string(f"alerts/messages/{language}/subject.txt", context))
    body = render_to_string(f"alerts/messages/{language}/email.txt", context).strip() + "\n"
    html = render_to_string(
        "alerts/messages/email.html",
        {"body": body, "language": language, "unsubscribe_url": unsubscribe},
    )
    return Rendered(body=body, subject=subject, html_body=html)


# Stand in for the per-patient token and for the due date while one text is rendered for
# many messages; both are plain ASCII letters, which no template filter, escaping, GSM-7
# mapping or whitespace folding changes.
_UNSUBSCRIBE_PLACEHOLDER = "NETCARE-UNSUBSCRIBE-PLACEHOLDER"
_DUE_PLACEHOLDER = "NETCAREDUEDATEPLACEHOLDER"
# A date far from any real one, rendered in place of the due date; format_date's text for it
# is then swapped for the placeholder (see Renderer._template).
_PROBE_DATE = date(1901, 2, 3)

# Rendered texts by (channel, kind, stage, language, settings they read), shared by the
# batches a worker process runs: a text is rendered once per process, not once per batch.
_TEMPLATES: dict[tuple, Rendered] = {}
_TEMPLATES_MAX = 512


class Renderer:
    """Renders the messages of one dispatch batch.

    A text depends on (channel, kind, stage, language) and the due date, and the date enters
    it only as ``format_date``'s text. So each text is rendered once with a probe date whose
    text is replaced by a placeholder, kept for the worker process, and filled per message
    with the due date and the patient's unsubscribe token by plain string replacement:
    rendering per message would cost more than sending to a fast provider. The cache key
    carries the settings a text reads, so a changed setting renders afresh. One instance per
    batch.
    """

    def __init__(self) -> None:
        self._link = settings.PUBLIC_BASE_URL + reverse(
            "alerts:unsubscribe", args=[_UNSUBSCRIBE_PLACEHOLDER]
        )
        self._settings = (self._link, settings.NETCARE_CLINIC_PHONE)
        self._texts: dict[tuple[str, str, str, date, str], Rendered] = {}

    def _template(self, channel: str, kind: str, stage: str, language: str) -> Rendered:
        key = (channel, kind, stage, language, self._settings)
        found = _TEMPLATES.get(key)
        if found is not None:
            return found
        probe = format_date(_PROBE_DATE, language)
        if channel == Channel.SMS:
            body = render_sms(kind=kind, stage=stage, due_on=_PROBE_DATE, language=language)
            rendered = Rendered(body=body.replace(probe, _DUE_PLACEHOLDER))
        else:
            email = render_email(
                kind=kind,
                stage=stage,
                due_on=_PROBE_DATE,
                language=language,
                unsubscribe=self._link,
            )
            rendered = Rendered(
                body=email.body.replace(probe, _DUE_PLACEHOLDER),
                subject=email.subject.replace(probe, _DUE_PLACEHOLDER),
                html_body=email.html_body.replace(probe, _DUE_PLACEHOLDER),
            )
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[key] = rendered
        return rendered

    def _text(self, channel: str, kind: str, stage: str, due_on: date, language: str) -> Rendered:
        key = (channel, kind, stage, due_on, language)
        text = self._texts.get(key)
        if text is None:
            template = self._template(channel, kind, stage, language)
            due = format_date(due_on, language)
            text = self._texts[key] = Rendered(
                body=template.body.replace(_DUE_PLACEHOLDER, due),
                subject=template.subject.replace(_DUE_PLACEHOLDER, due),
                html_body=template.html_body.replace(_DUE_PLACEHOLDER, due),
            )
        return text

    def build(
        self,
        *,
        reminder_id: int,
        channel: str,
        kind: str,
        stage: str,
        due_on: date,
        patient_id: int,
        language: str,
        email: str,
        phone: str,
        attempt: int,
    ) -> Message:
        """The message for one reminder, ready for its channel."""
        text = self._text(channel, kind, stage, due_on, language_of(language))
        if channel == Channel.SMS:
            return Message(
                channel=channel, to=phone, body=text.body, reminder_id=reminder_id, attempt=attempt
            )
        token = unsubscribe_token(patient_id=patient_id, channel=Channel.EMAIL)
        link = self._link.replace(_UNSUBSCRIBE_PLACEHOLDER, token)
        return Message(
            channel=channel,
            to=email,
            subject=text.subject,
            body=text.body.replace(_UNSUBSCRIBE_PLACEHOLDER, token),
            html_body=text.html_body.replace(_UNSUBSCRIBE_PLACEHOLDER, token),
            # RFC 8058: mail clients show an unsubscribe button that POSTs here, no page needed.
            headers={
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            reminder_id=reminder_id,
            attempt=attempt,
        )


def build_message(**fields: Any) -> Message:
    """One message on its own (see Renderer.build for the fields)."""
    return Renderer().build(**fields)
