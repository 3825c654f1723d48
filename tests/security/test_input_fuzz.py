"""A bounded fuzz pass over every operation of /api/schema/ with the inputs that used to give 500s.

Hypothesis draws, for each documented operation, path ids, query parameters, an
Idempotency-Key and JSON bodies shaped like the documented request body, with values taken
from NUL bytes, lone surrogates, digits of other scripts ("²", "٣", "１"), exponent and signed
numbers, numbers beyond a bigint, and valid values (so requests also reach the services). Each
operation runs as a coordinator and as a patient, on objects they may see and on others. No
answer may be a server error. The example count per operation is fixed, so the run is short.
"""

import dataclasses
import json
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from api.models import IdempotencyRecord
from tests import factories
from tests.api.figures import report

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 12
SEED = 20261130
ODD = ("\x00", "a\x00", "\ud800", "x\udfff", "\ud83d", "²", "٣", "１", "1e3", " 1", "+1", "-1",
       "0", "", "9" * 25, str(2**63), "1.5", "NaN", "null", "2026-02-30", "٢٠٢٦-٠١-٠١")  # fmt: skip
ODD_CHARS = st.sampled_from(["\x00", "\ud800", "\udc00", "²", "٣", "１", "\u202e", "'", "%"])
HOSTILE_TEXT = st.one_of(
    st.sampled_from(ODD),
    st.text(alphabet=st.one_of(st.characters(), ODD_CHARS), max_size=12),
)
SCALARS = st.one_of(
    HOSTILE_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(HOSTILE_TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)
RUN = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def wire(text: str) -> str:
    """Percent-encoded UTF-8 as a client would send it; a lone surrogate as its raw bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return node


def value_for(schema: dict, node: dict, depth: int = 0) -> st.SearchStrategy:
    """A hostile value, or a valid-looking one of the documented shape (to get past the
    first check and reach deeper code)."""
    node = resolve(schema, node)
    plausible: list[st.SearchStrategy] = []
    if "enum" in node:
        plausible.append(st.sampled_from([v for v in node["enum"] if v is not None] or [""]))
    if node.get("format") == "date":
        plausible.append(st.sampled_from(["2026-09-01", "2026-02-01"]))
    if node.get("type") == "integer":
        plausible.append(st.integers(min_value=1, max_value=50))
    if node.get("type") == "object" and "properties" in node and depth < 3:
        plausible.append(body_for(schema, node, depth + 1))
    return st.one_of(HOSTILE, *plausible) if plausible else HOSTILE


def body_for(schema: dict, node: dict, depth: int = 0) -> st.SearchStrategy:
    """A JSON object with a subset of the documented properties, each possibly hostile."""
    properties = resolve(schema, node).get("properties", {})
    return st.fixed_dictionaries(
        {}, optional={name: value_for(schema, prop, depth) for name, prop in properties.items()}
    ).flatmap(
        lambda body: st.one_of(
            st.just(body), st.builds(lambda k, v: body | {k: v}, HOSTILE_TEXT, HOSTILE)
        )
    )


@dataclasses.dataclass
class Tally:
    persona: str
    operations: int = 0
    cases: int = 0
    statuses: Counter = dataclasses.field(default_factory=Counter)
    server_errors: list[str] = dataclasses.field(default_factory=list)


def fuzz_operation(
    client: APIClient, schema: dict, path: str, method: str, ids: list[int], tally: Tally
) -> None:
    operation = schema["paths"][path][method]
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    body = body_for(schema, content["schema"]) if content else st.none()
    path_id = st.one_of(st.sampled_from(ids), HOSTILE_TEXT.map(str))
    params = (
        st.dictionaries(st.sampled_from(query), HOSTILE_TEXT, max_size=3) if query else st.just({})
    )
    key = st.one_of(st.none(), st.sampled_from(["k\x00", "k\ud800", "٣", "ok"]))

    @RUN
    @seed(SEED)
    @given(path_id=path_id, params=params, body=body, key=key)
    def case(path_id: Any, params: dict, body: Any, key: str | None) -> None:
        IdempotencyRecord.objects.all().delete()  # repeated keys would replay, not validate
        url = path.replace("{id}", wire(str(path_id)))
        if params:
            url += "?" + "&".join(f"{wire(k)}={wire(v)}" for k, v in params.items())
        extra = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        payload = None if body is None else json.dumps(body)
        response = client.generic(
            method.upper(), url, payload or "", content_type="application/json", **extra
        )
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors.append(
                f"{method.upper()} {url[:120]} body {str(payload)[:160]} -> "
                f"{response.status_code} {response.content[:160]!r}"
            )

    cache.clear()  # per-user throttles count every case; this run is about inputs, not rates
    case()
    tally.operations += 1


@pytest.fixture
def course_b(coordinator2, team_b):
    return factories.register(coordinator2, team_b, given_name="Bea", family_name="Other")


@pytest.mark.parametrize("persona", ["coordinator", "patient"])
def test_hostile_ids_filters_and_bodies_never_give_a_server_error(
    persona, coordinator, patient_user, course, course_b, capsys
):
    user = {"coordinator": coordinator, "patient": patient_user}[persona]
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    schema = client.get("/api/schema/", {"format": "json"}).json()
    ids = [course.pk, course.patient_id, course_b.pk, course_b.patient_id]
    tally = Tally(persona)

    for path, operations in schema["paths"].items():
        for method in operations:
            if method in {"get", "post", "patch", "put", "delete"}:
                fuzz_operation(client, schema, path, method, ids, tally)

    codes = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    line = (
        f"{persona}: {tally.operations} operations, {tally.cases} cases, "
        f"{len(tally.server_errors)} 5xx, seed {SEED}; statuses {codes}"
    )
    report("input fuzz", line)
    with capsys.disabled():
        print(f"\ninput fuzz: {line}")
    assert tally.operations >= 20
    assert tally.cases >= tally.operations * EXAMPLES_PER_OPERATION // 2
    assert tally.server_errors == [], "\n".join(tally.server_errors[:10])
