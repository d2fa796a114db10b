"""Replays the requests recorded against a real Moodle 4.1 + plugin 1.5.0 and compares the bytes.

The reference site of the recordings is loaded into a fresh database (SQLite and MariaDB); each
request is sent the same way (method, query, content type, body) and the bridge must answer with
the same status, the same Moodle headers in the same order and the same body, byte for byte.
Recordings whose answer depends on ``get_course_progress`` data are replayed by the reporting tests.
"""

import pytest
import sqlalchemy as sa

from .reference_site import BASE_URL, load_reference_site, recorded_response, recordings, reference_app

# Headers Moodle itself sets; Host, Date, Connection and X-Powered-By come from PHP's web server.
MOODLE_HEADERS = {
    "content-type",
    "content-disposition",
    "cache-control",
    "expires",
    "pragma",
    "accept-ranges",
    "access-control-allow-origin",
}
PROTOCOL_RECORDINGS = [
    "01-a-invalid-token-post.txt",
    "02-a-invalid-token-get.txt",
    "03-a-invalid-token-xml.txt",
    "04-b-no-wstoken-post.txt",
    "05-b-no-wstoken-get.txt",
    "06-b-no-wstoken-xml.txt",
    "07-c-expired-token-post.txt",
    "08-c-expired-token-get.txt",
    "09-c-expired-token-xml.txt",
    "10-d-ip-restricted-token-post.txt",
    "11-d-ip-restricted-token-get.txt",
    "12-d-ip-restricted-token-xml.txt",
    "13-e-suspended-user-post.txt",
    "14-e-suspended-user-get.txt",
    "15-e-suspended-user-xml.txt",
    "16-f-no-wsfunction-post.txt",
    "17-f-no-wsfunction-get.txt",
    "18-f-no-wsfunction-xml.txt",
    "19-g-unknown-function-post.txt",
    "20-g-unknown-function-get.txt",
    "21-g-unknown-function-xml.txt",
    "22-h-service-lacks-function-post.txt",
    "23-h-service-lacks-function-get.txt",
    "24-h-service-lacks-function-xml.txt",
    "49-q-site-info-u10-post.txt",
    "50-q-site-info-u10-get.txt",
    "51-q-site-info-u10-xml.txt",
    "62-u-query-valid-form-bad-post.txt",
    "64-x-disabled-service-token-post.txt",
    "65-x-disabled-service-token-get.txt",
    "66-x-disabled-service-token-xml.txt",
    "80-x-empty-wstoken.txt",
]
EXPIRED_TOKEN = "a1c0ffee0000000000000000000e0001"


@pytest.fixture(scope="module")
def reference(database_url):
    app = reference_app(database_url)
    database = app.extensions["alx_database"]
    load_reference_site(database)
    yield app, database
    database.engine.dispose()


def replay(client, file_name):
    request = recordings()[file_name]
    has_body = request["method"] != "GET"
    return client.open(
        request["url"].removeprefix(BASE_URL),
        method=request["method"],
        data=request["body"] if has_body else None,
        content_type=request["content_type"] if has_body else None,
        base_url=BASE_URL,
    )


def moodle_headers(headers):
    """Moodle's own headers in order, names spelled as sent (PHP writes ``Content-type`` for JSON)."""
    return [(name, value) for name, value in headers if name.lower() in MOODLE_HEADERS]


def restore_expired_token(database):
    """The recorder re-inserted the expired token before each variant: Moodle deletes it on use."""
    tokens = database.tables.external_tokens
    with database.begin() as connection:
        if connection.execute(sa.select(tokens.c.id).where(tokens.c.token == EXPIRED_TOKEN)).first() is None:
            connection.execute(
                tokens.insert().values(
                    token=EXPIRED_TOKEN, tokentype=0, userid=12, externalserviceid=3, contextid=1,
                    validuntil=1795218081, timecreated=1792712481,
                )
            )  # fmt: skip


@pytest.mark.parametrize("file_name", PROTOCOL_RECORDINGS)
def test_answer_is_byte_identical_to_moodle(reference, file_name):
    app, database = reference
    if "-c-expired-token" in file_name:
        restore_expired_token(database)
    response = replay(app.test_client(), file_name)
    status, headers, body = recorded_response(file_name)
    assert f"HTTP/1.1 {response.status}" == status
    assert moodle_headers(response.headers.items()) == moodle_headers(headers)
    assert "set-cookie" not in {name.lower() for name, _ in response.headers.items()}
    assert response.data == body


def test_expired_token_is_deleted_on_use_like_moodle(reference):
    app, database = reference
    restore_expired_token(database)
    first = replay(app.test_client(), "07-c-expired-token-post.txt")
    assert b"accessexception" in first.data
    after = replay(app.test_client(), "63-x-expired-token-after-deletion.txt")
    assert after.data == recorded_response("63-x-expired-token-after-deletion.txt")[2]
