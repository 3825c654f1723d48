"""The OpenAPI schema at /api/schema/ documents every endpoint and its error bodies
(docs/api.md#errors)."""

import pytest
from django.urls import get_resolver
from rest_framework.test import APIClient

from api.parsers import BoundedJSONParser
from api.schema import NetcareAutoSchema

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _api_views() -> list:
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) == "api":
            return [(inner.name, inner.callback.cls) for inner in pattern.url_patterns]
    raise AssertionError("no api namespace")


def test_the_schema_is_openapi_3_and_lists_every_api_path(schema):
    documented = {path for path in schema["paths"] if path.startswith("/api/v1/")}

    assert schema["openapi"].startswith("3.")
    assert len(documented) == len(_api_views())


def test_every_operation_documents_its_error_bodies(schema):
    assert set(schema["components"]["schemas"]["ErrorBody"]["required"]) == {
        "code", "detail", "errors",
    }  # fmt: skip
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("400", "401", "429") + (("404",) if "{" in path else ()):
                body = responses[status]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_every_post_that_honours_idempotency_keys_documents_the_header(schema):
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        # A calendar address is never replayed (its secret is not stored): a retried POST
        # issues a new one, and the lost one stops working.
        if post is None or "/auth/" in path or path.endswith("/calendar/"):
            continue
        names = {p["name"] for p in post.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in names, path


def test_lists_are_documented_as_cursor_pages(schema):
    for path in ("/api/v1/courses/", "/api/v1/imaging-studies/", "/api/v1/alerts/"):
        ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
        assert set(schema["components"]["schemas"][name]["properties"]) == {
            "next", "previous", "results",
        }, path  # fmt: skip


def test_every_api_view_parses_bounded_json_and_documents_errors():
    for name, view in _api_views():
        assert view.parser_classes == [BoundedJSONParser], name
        assert isinstance(view.schema, NetcareAutoSchema), name


def test_the_docs_page_renders_the_schema():
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    # The start-up script is a file of its own (the CSP allows no inline script).
    script = APIClient().get("/api/docs/", {"script": ""})
    assert "/api/schema/" in script.content.decode()


@pytest.mark.parametrize(
    ("email", "valid"), [("", True), ("ana@example.org", True), ("nope", False)]
)
def test_a_patient_answer_may_carry_an_empty_email_and_only_a_real_address_otherwise(
    schema, email, valid
):
    # A patient without an email address is answered with "": the published schema must accept
    # it, or every client validating answers would reject that patient.
    import jsonschema

    field = schema["components"]["schemas"]["Patient"]["properties"]["email"]
    checker = jsonschema.Draft4Validator(field, format_checker=jsonschema.FormatChecker())
    assert checker.is_valid(email) is valid
