"""``alx create-token``: a token issued from the command line works at once, like one from Moodle's UI."""

import pytest
import sqlalchemy as sa

from alxbridge.demo import build_demo_site

from .conftest import make_app


@pytest.fixture(scope="module")
def site(database_url):
    app = make_app(database_url)
    database = app.extensions["alx_database"]
    build_demo_site(database, companies=2, users=40, courses=5, seed=3, now=1_795_000_000)
    yield app, database
    database.engine.dispose()


def suspended_username(database):
    user = database.tables.user
    with database.connect() as connection:
        return connection.execute(
            sa.select(user.c.username).where(user.c.suspended == 1, user.c.deleted == 0).limit(1)
        ).scalar()


def test_issued_token_authenticates_for_site_info(site):
    app, _ = site
    result = app.test_cli_runner().invoke(args=["alx", "create-token", "--user", "admin"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) == 32 and int(token, 16) >= 0
    response = app.test_client().post(
        "/webservice/rest/server.php",
        data={"wstoken": token, "wsfunction": "core_webservice_get_site_info", "moodlewsrestformat": "json"},
    )
    assert response.get_json()["username"] == "admin"


def test_ip_restriction_and_expiry_are_stored(site):
    app, database = site
    result = app.test_cli_runner().invoke(
        args=["alx", "create-token", "--user", "admin", "--valid-until", "1900000000", "--ip-restriction", "10.1."]
    )
    tokens = database.tables.external_tokens
    with database.connect() as connection:
        row = connection.execute(sa.select(tokens).where(tokens.c.token == result.output.strip())).one()
    assert (row.validuntil, row.iprestriction, row.tokentype, row.contextid) == (1900000000, "10.1.", 0, 1)


@pytest.mark.parametrize(
    ("user", "message"),
    [("nobody-here", "no Moodle user with username 'nobody-here'"), (None, "is suspended")],
)
def test_refusals_are_one_line_errors(site, user, message):
    app, database = site
    username = user or suspended_username(database)
    result = app.test_cli_runner().invoke(args=["alx", "create-token", "--user", username])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert message in result.output and "Traceback" not in result.output
