"""The channels behind one interface: what each backend does with a message and its errors."""

import ast
import io
import json
import smtplib
from logging import getLogger
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from alerts import channels, testing
from alerts.channels import Message, PermanentError, TransientError
from alerts.models import RecordedMessage

ROOT = Path(__file__).resolve().parents[2]

SMS = Message(
    channel="sms", to="+447700900123", body="Your clinic: your scan is due.", reminder_id=7
)
EMAIL = Message(
    channel="email", to="ana@example.org", subject="Reminder", body="Hello", reminder_id=8
)


class TwilioAnswers(HttpClient):
    """Twilio's own SDK, with the HTTP exchange answered here instead of by the network."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(getLogger("twilio-test"), is_async=False)
        self.status, self.body, self.sent = status, body, []

    def request(self, method, url, params=None, data=None, headers=None, **kwargs):
        self.sent.append((method, url, data))
        return Response(self.status, json.dumps(self.body))


def twilio(status: int, body: dict) -> tuple[channels.TwilioSMSBackend, TwilioAnswers]:
    http = TwilioAnswers(status, body)
    return channels.TwilioSMSBackend(Client("AC" + "0" * 32, "token", http_client=http)), http


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.PUBLIC_BASE_URL = "https://netcare.example.org"


def test_twilio_sends_with_our_status_callback_and_returns_the_sid():
    backend, http = twilio(201, {"sid": "SM123", "status": "queued"})

    result = backend.send(SMS)

    assert result.provider_message_id == "SM123"
    method, url, data = http.sent[0]
    assert method == "POST" and url.endswith("/Messages.json")
    form = data if isinstance(data, dict) else parse_qs(data)
    assert form["StatusCallback"] in (
        "https://netcare.example.org/webhooks/sms/status/",
        ["https://netcare.example.org/webhooks/sms/status/"],
    )


@pytest.mark.parametrize(
    "status,error",
    [(400, PermanentError), (404, PermanentError), (429, TransientError), (503, TransientError)],
)
def test_twilio_errors_are_permanent_or_transient_by_status(status, error):
    backend, _ = twilio(status, {"code": 21610, "message": "refused", "status": status})

    with pytest.raises(error):
        backend.send(SMS)


def test_the_console_backend_prints_the_sms():
    stream = io.StringIO()

    result = channels.ConsoleSMSBackend(stream).send(SMS)

    assert result.provider_message_id.startswith("console-")
    assert "+447700900123" in stream.getvalue() and SMS.body in stream.getvalue()


def test_the_file_backend_appends_one_json_line_per_sms(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    backend = channels.FileSMSBackend()

    backend.send(SMS)
    backend.send(SMS)

    lines = (tmp_path / "sms.log").read_text().splitlines()
    assert [json.loads(line)["reminder"] for line in lines] == [7, 7]


@pytest.mark.django_db
def test_the_recording_backends_write_what_they_accept(settings):
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    settings.ALERTS_RECORDING_FAIL_PERMANENT_TO = ("refused@example.org",)
    refused = Message(channel="email", to="refused@example.org", body="x", reminder_id=9)

    sms = testing.RecordingSMSBackend().send_many([SMS])
    email = channels.EmailChannel().send_many([EMAIL, refused])

    assert isinstance(email[1], PermanentError)
    assert sorted(RecordedMessage.objects.values_list("channel", "to", "reminder_id")) == [
        ("email", "ana@example.org", 8),
        ("sms", "+447700900123", 7),
    ]
    assert sms[0].provider_message_id and email[0].provider_message_id


@pytest.mark.django_db
def test_the_recording_backends_fail_the_first_attempts_when_asked(settings):
    settings.ALERTS_RECORDING_FAIL_FIRST = 1
    first = Message(channel="sms", to="+447700900123", body="x", reminder_id=1, attempt=1)
    second = Message(channel="sms", to="+447700900123", body="x", reminder_id=1, attempt=2)

    outcomes = testing.RecordingSMSBackend().send_many([first, second])

    assert isinstance(outcomes[0], TransientError)
    assert outcomes[1].provider_message_id
    assert RecordedMessage.objects.count() == 1


class RefusingEmailBackend(BaseEmailBackend):
    """An SMTP server that answers with the error the test sets."""

    error: Exception = smtplib.SMTPRecipientsRefused({"ana@example.org": (550, b"no such user")})

    def send_messages(self, email_messages):
        raise type(self).error


@pytest.mark.parametrize(
    "error,expected",
    [
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")}), PermanentError),
        (smtplib.SMTPDataError(554, b"rejected"), PermanentError),
        (smtplib.SMTPDataError(451, b"try later"), TransientError),
        (smtplib.SMTPServerDisconnected("gone"), TransientError),
        (ConnectionRefusedError("down"), TransientError),
    ],
)
def test_email_errors_are_permanent_or_transient(settings, error, expected):
    settings.EMAIL_BACKEND = "tests.alerts.test_channels.RefusingEmailBackend"
    RefusingEmailBackend.error = error

    with pytest.raises(expected):
        channels.EmailChannel().send(EMAIL)


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="unknown channel"):
        channels.backend_for("pigeon")


APPS = ("alerts", "api", "coordinator", "core", "netcare", "surveillance", "treatments")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_no_production_module_imports_the_test_doubles():
    production = [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and path != ROOT / "alerts" / "testing.py"
    ]
    importing = [
        str(path.relative_to(ROOT))
        for path in production
        if any(name.startswith("alerts.testing") for name in imported_modules(path))
    ]

    assert len(production) > 20
    assert importing == []


def test_the_channels_module_defines_no_recording_backend_or_fault_hook():
    source = (ROOT / "alerts" / "channels.py").read_text(encoding="utf-8")
    defined = {
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef | ast.FunctionDef)
    }

    assert {"RecordingSMSBackend", "RecordingEmailBackend"} <= set(dir(testing))
    assert not {name for name in defined if "recording" in name.lower() or "fault" in name}
    assert "RECORDING" not in source
