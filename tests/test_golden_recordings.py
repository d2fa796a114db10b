"""Replays the requests recorded against a real Moodle 4.1 + plugin 1.5.0 and compares the bytes.

The reference site of the recordings is loaded into a fresh database (SQLite and MariaDB); each
request is sent the same way (method, query, content type, body, curl's User-Agent) and the bridge
must answer with the same status, the same Moodle headers in the same order and the same body, byte
for byte. The only headers it may add are the transport's ``Content-Length`` and, on successful
``get_course_progress`` answers only, the three ``X-ALX-Sync-*`` headers after Moodle's (issue 15).
Recordings whose answer shows a plugin bug the bridge does not copy (``invalidresponse`` for a course
name with tags, the one-row-per-user paging, incremental answers keyed by an absent Bearer header) are
covered by the reporting tests, which name the bug.
"""

import pytest
import sqlalchemy as sa

from alxbridge.sync.runs import run_sync

from .progress_support import PLUGIN_TABLES
from .reference_site import BASE_URL, load_reference_site, recorded_response, recordings, reference_app
from .rest_support import SYNC_HEADER_NAMES, served_headers

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
# get_course_progress refusals: parameter validation, the plugin's limit and company checks.
PROGRESS_ERROR_RECORDINGS = [
    *(f"{n}-{slug}-{variant}.txt" for n, slug, variant in (
        (25, "i-limit-abc", "post"), (26, "i-limit-abc", "get"), (27, "i-limit-abc", "xml"),
        (28, "j-limit-5.0", "post"), (29, "j-limit-5.0", "get"), (30, "j-limit-5.0", "xml"),
        (31, "k-limit-05", "post"), (32, "k-limit-05", "get"), (33, "k-limit-05", "xml"),
        (34, "l-extra-param-foo", "post"), (35, "l-extra-param-foo", "get"), (36, "l-extra-param-foo", "xml"),
        (37, "m-limit-5000", "post"), (38, "m-limit-5000", "get"), (39, "m-limit-5000", "xml"),
        (40, "n-user-without-company", "post"), (41, "n-user-without-company", "get"),
        (42, "n-user-without-company", "xml"),
    )),
    "78-x-offset-abc.txt",
    "79-x-limit-array.txt",
]  # fmt: skip
# get_course_progress answers: u50's company, whose one row both the plugin and the bridge serve.
PROGRESS_ANSWERS = [
    "70-x-u50-company3-default-post.txt",
    "71-x-u50-company3-default-get.txt",
    "72-x-u50-company3-default-xml.txt",
]
RECORDED_USER_AGENT = "curl/7.88.1"  # requests.json: curl's default headers were sent
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
        headers={"User-Agent": RECORDED_USER_AGENT},
        base_url=BASE_URL,
    )


def moodle_headers(headers):
    """Moodle's own headers in order, names spelled as sent (PHP writes ``Content-type`` for JSON)."""
    return [(name, value) for name, value in headers if name.lower() in MOODLE_HEADERS]


def assert_same_answer(response, file_name, added=()):
    """Moodle's status, headers (in order) and body, byte for byte; after Moodle's headers exactly ``added``."""
    status, headers, body = recorded_response(file_name)
    assert f"HTTP/1.1 {response.status}" == status
    assert served_headers(response.headers.items()) == [*moodle_headers(headers), *added]
    assert "set-cookie" not in {name.lower() for name, _ in response.headers.items()}
    assert response.data == body


def sync_headers(mode, since, version):
    return list(zip(SYNC_HEADER_NAMES, (mode, str(since), str(version)), strict=True))


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


@pytest.mark.parametrize("file_name", PROTOCOL_RECORDINGS + PROGRESS_ERROR_RECORDINGS)
def test_answer_is_byte_identical_to_moodle(reference, file_name):
    """Errors of every function and the site info answer: Moodle's headers and nothing more."""
    app, database = reference
    if "-c-expired-token" in file_name:
        restore_expired_token(database)
    assert_same_answer(replay(app.test_client(), file_name), file_name)


@pytest.mark.parametrize("file_name", PROGRESS_ANSWERS)
def test_progress_answer_is_byte_identical_and_says_it_is_full(reference, file_name):
    """Before the company's first sync the bridge answers live, in full, at version 0."""
    app, _ = reference
    assert_same_answer(replay(app.test_client(), file_name), file_name, sync_headers("full", 0, 0))


@pytest.fixture
def synced(reference):
    """The reference site after a full sync; the plugin's and the bridge's rows are removed afterwards."""
    app, database = reference
    assert not run_sync(database, full=True).failed
    yield app, database
    with database.begin() as connection:
        for name in PLUGIN_TABLES:
            connection.execute(sa.delete(getattr(database.tables, name)))


def test_progress_answers_from_the_reporting_table_are_byte_identical_too(synced):
    """After a sync the same bytes come from the reporting table; the headers name the synced version."""
    app, database = synced
    state = database.tables.local_alxbridge_company
    with database.connect() as connection:
        version = connection.execute(sa.select(state.c.committed_version).where(state.c.companyid == 3)).scalar()
    assert version > 0
    for file_name in PROGRESS_ANSWERS:  # offset 0 three times: one session, opened and then replayed
        assert_same_answer(replay(app.test_client(), file_name), file_name, sync_headers("full", 0, version))


def test_expired_token_is_deleted_on_use_like_moodle(reference):
    app, database = reference
    restore_expired_token(database)
    first = replay(app.test_client(), "07-c-expired-token-post.txt")
    assert b"accessexception" in first.data
    after = replay(app.test_client(), "63-x-expired-token-after-deletion.txt")
    assert after.data == recorded_response("63-x-expired-token-after-deletion.txt")[2]
