"""Fixtures of the admin page tests: one small site per module (both backends), signed-in clients."""

import pytest

from ..conftest import make_app
from .support import AdminSite, sign_in


@pytest.fixture(scope="module")
def app(database_url):
    return make_app(database_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")


@pytest.fixture(scope="module")
def site(app):
    database = app.extensions["alx_database"]
    yield AdminSite(database)
    database.engine.dispose()


@pytest.fixture
def admin_client(app, site):
    client = app.test_client()
    response = sign_in(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
