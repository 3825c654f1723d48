"""The health endpoint answers for the database and the broker."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_reports_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert body["database"]["ok"] is True


def test_it_answers_503_naming_the_broker_when_it_is_down(client, settings):
    from netcare.celery import app

    # A closed port on loopback: the broker is unreachable, the database is not.
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
    assert response.json()["database"]["ok"] is True
