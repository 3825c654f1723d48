import pytest
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture
def api():
    """An API client logged in as a given user through the real JWT endpoint."""

    def login(user) -> APIClient:
        client = APIClient()
        response = client.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": factories.PASSWORD},
            format="json",
        )
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return client

    return login
