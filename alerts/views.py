"""Provider webhooks and the one-click unsubscribe link.

No user logs in here: a Twilio request proves itself with its signature, an unsubscribe link
with ours. Both are exempt from CSRF because the caller is a provider or a mail client that
holds no CSRF cookie; the signature is the protection.
"""

from __future__ import annotations

import functools
import logging
from xml.sax.saxutils import escape

from django.conf import settings
from django.core import signing
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
)
from django.shortcuts import render
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from . import keywords, messages, services

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio_signed(request: HttpRequest) -> bool:
    """True when X-Twilio-Signature matches the public URL Twilio called and the form body.

    Behind a proxy the request's own URL (http, internal host) is not what Twilio signed, so
    the check uses PUBLIC_BASE_URL. No auth token configured means nothing can be verified.
    """
    signature = request.headers.get(SIGNATURE_HEADER, "")
    token = settings.TWILIO_AUTH_TOKEN
    if not signature or not token:
        return False
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    return RequestValidator(token).validate(url, request.POST, signature, algorithm)


def _message_sid(request: HttpRequest) -> str:
    # Twilio sends both; SmsSid is the older name of the same id.
    return request.POST.get("MessageSid", "") or request.POST.get("SmsSid", "")


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    """Delivery report for an SMS we sent. Kept even when no reminder carries its id yet (it
    may come before the dispatcher wrote the id) and applied then; answered 200 either way."""
    if not _twilio_signed(request):
        logger.warning("refused an unsigned or badly signed SMS status callback")
        return HttpResponseForbidden("invalid signature")
    services.status_callback(
        message_sid=_message_sid(request),
        status=request.POST.get("MessageStatus", "") or request.POST.get("SmsStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS from a patient: opt-out and opt-in keywords change SMS consent (a replay, known
    by its MessageSid, changes nothing); a help keyword is answered in the patient's language."""
    if not _twilio_signed(request):
        logger.warning("refused an unsigned or badly signed inbound SMS")
        return HttpResponseForbidden("invalid signature")
    result = services.sms_inbound(
        from_number=request.POST.get("From", ""),
        body=request.POST.get("Body", ""),
        message_sid=_message_sid(request),
    )
    if result.outcome == "help":
        text = keywords.HELP_REPLY[result.language].format(phone=settings.NETCARE_CLINIC_PHONE)
        twiml = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
            f"{escape(text)}</Message></Response>"
        )
        return HttpResponse(twiml, content_type="text/xml")
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page (link scanners must not unsubscribe anyone); POST,
    from that page's button or a mail client's RFC 8058 one-click, unsubscribes."""
    try:
        _patient_id, channel = messages.read_unsubscribe_token(token)
    except signing.BadSignature:
        return render(request, "alerts/unsubscribe_invalid.html", status=400)
    context = {"channel": channel}
    if request.method == "GET":
        return render(request, "alerts/unsubscribe_confirm.html", context)
    services.unsubscribe(token=token)
    return render(request, "alerts/unsubscribe_done.html", context)


def email_tracking_webhooks() -> list:
    """Anymail's tracking webhook URL patterns, each refusing every request (403) while
    `ANYMAIL["WEBHOOK_SECRET"]` is unset: without it, anyone could fail or deliver our
    reminders. With it, anymail checks the HTTP basic auth (and the ESP's own signature
    where it has one) and sends its `tracking` signal, handled by services.email_tracking.
    """
    from anymail import urls as anymail_urls

    patterns = []
    for pattern in anymail_urls.urlpatterns:
        if not pattern.name or not pattern.name.endswith("_tracking_webhook"):
            continue
        patterns.append(
            URLPattern(
                pattern.pattern,
                _require_webhook_secret(pattern.callback),
                pattern.default_args,
                pattern.name,
            )
        )
    return patterns


def _require_webhook_secret(view):
    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET"):
            logger.warning("refused an email tracking webhook: no WEBHOOK_SECRET configured")
            return HttpResponseForbidden("webhook secret not configured")
        try:
            return view(request, *args, **kwargs)
        except (ValueError, TypeError, KeyError) as exc:
            # A body anymail cannot parse (not JSON, a list where it expects an object):
            # the sender's mistake, answered 400. Database errors still give a 5xx, so
            # the provider retries.
            logger.warning("refused a malformed email tracking webhook: %r", exc)
            return HttpResponseBadRequest("malformed webhook body")

    return csrf_exempt(guarded)
