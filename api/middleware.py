"""Request and response rules that hold for every page and API answer.

- Input: a query string, form body or Idempotency-Key holding NUL (or a lone surrogate) is a
  400 before any view or other middleware reads it; JSON bodies get the same check in the
  API's parser (api.parsers), so each kind of input is checked in one place.
- Outage: a lost database connection answers 503 `unavailable`, not a 500.
- Caching: answers are never stored by browsers or proxies; they may hold patient data.
"""

from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.cache import patch_cache_control

from api.exceptions import RETRY_AFTER_SECONDS, UNAVAILABLE_BODY
from api.parsers import UNSTORABLE, UNSTORABLE_MESSAGE

API_PREFIXES = ("/api/", "/webhooks/")
# Only url-encoded forms are read here: reading a multipart body would consume the stream a
# view may still want raw, and Django's form fields refuse NUL in multipart forms themselves.
FORM_TYPES = ("application/x-www-form-urlencoded",)
CHECKED_HEADERS = ("Idempotency-Key",)
MAX_NAMED = 20
# The compact separators of DRF's renderer, so these bodies read like those of the views.
COMPACT = {"separators": (",", ":")}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def _unstorable_names(request: HttpRequest) -> list[str]:
    """Names of query parameters, form fields and headers holding NUL or a lone surrogate."""
    sources = [request.GET]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        sources.append(request.POST)
    names = set()
    for params in sources:
        for name, values in params.lists():
            if UNSTORABLE.search(name) or any(UNSTORABLE.search(v) for v in values):
                names.add(name if not UNSTORABLE.search(name) else "non_field_errors")
    for header in CHECKED_HEADERS:
        if UNSTORABLE.search(request.headers.get(header, "")):
            names.add(header)
    return sorted(names)[:MAX_NAMED]


class UnstorableInputMiddleware:
    """400 for NUL or lone surrogates in the query string, a form body or a stored header.

    Django decodes percent-escapes and form bodies with replacement characters, so a lone
    surrogate cannot arrive that way, but `%00` becomes a real NUL that PostgreSQL refuses in
    any text comparison (a 500 deep in a filter or a login). API paths answer with the API's
    error body naming each parameter; pages get a plain 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        names = _unstorable_names(request)
        if not names:
            return self.get_response(request)
        if _is_api(request):
            return JsonResponse(
                {
                    "code": "invalid",
                    "detail": "Invalid input.",
                    "errors": {name: [UNSTORABLE_MESSAGE] for name in names},
                },
                status=400,
                json_dumps_params=COMPACT,
            )
        return HttpResponse(
            UNSTORABLE_MESSAGE, status=400, content_type="text/plain; charset=utf-8"
        )


def unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the API's `unavailable` body on API paths, plain text elsewhere.

    Rendered without templates or the session, which may need the database that is gone.
    """
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            UNAVAILABLE_BODY, status=503, json_dumps_params=COMPACT
        )
    else:
        response = HttpResponse(
            UNAVAILABLE_BODY["detail"], status=503, content_type="text/plain; charset=utf-8"
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    patch_cache_control(response, no_store=True)
    return response


class DatabaseUnavailableMiddleware:
    """A view that loses the database connection answers 503 `unavailable`, not 500.

    API views already answer so through the API's exception handler; this covers the admin
    and every other page. Errors raised outside a view are caught by `handler500`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return unavailable(request)
        return None


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every dynamic answer: API bodies and admin pages hold
    patient data, which must not stay in a browser's or a proxy's cache.

    Static files are served before this runs (WhiteNoise) and keep their own caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
