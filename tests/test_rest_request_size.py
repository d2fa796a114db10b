"""Request size on server.php: a body past ``ALX_MAX_REQUEST_BYTES`` is never read, and only the first 1000 form
fields are parsed, as PHP ignores a POST past ``post_max_size`` and fields past ``max_input_vars``.

The call is then read from the query alone, so a POSTed token is missing: Moodle's ``invalidtoken``.
"""

import io
from urllib.parse import urlencode

import pytest

from .reference_site import load_reference_site, reference_app
from .rest_support import (
    RELAXED_LIMITS,
    SITE_INFO,
    U10,
    assert_moodle_response,
    call,
    envelope,
    recorded_site_info,
)

CAP = 64 * 1024
NO_TOKEN = envelope("json", "moodle_exception", "invalidtoken", "Invalid token - token not found")
CALL_FIELDS = [("wstoken", U10), ("wsfunction", SITE_INFO), ("moodlewsrestformat", "json")]


@pytest.fixture(scope="module")
def app(database_url):
    app = reference_app(database_url, ALX_MAX_REQUEST_BYTES=CAP, **RELAXED_LIMITS)
    load_reference_site(app.extensions["alx_database"])
    yield app
    app.extensions["alx_database"].engine.dispose()


class CountingBody(io.BytesIO):
    """A request body that remembers how much of it the server read."""

    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


def test_a_body_within_the_cap_is_read(app):
    body = urlencode([*CALL_FIELDS, ("moodlewssettinglang", "x" * (CAP // 2))])
    assert_moodle_response(call(app.test_client(), method="POST", form=body), "json", recorded_site_info("json"))


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b"])
def test_a_body_past_the_size_cap_is_never_read(app, content_type):
    stream = CountingBody(urlencode([*CALL_FIELDS, ("moodlewssettinglang", "x" * (4 * CAP))]).encode())
    response = app.test_client().post(
        "/webservice/rest/server.php?moodlewsrestformat=json", input_stream=stream,
        content_length=len(stream.getvalue()), content_type=content_type,
    )  # fmt: skip
    assert_moodle_response(response, "json", NO_TOKEN)
    assert stream.bytes_read == 0


def test_form_fields_past_the_first_thousand_are_not_read(app):
    body = urlencode([*((f"f{n}", "1") for n in range(1000)), *CALL_FIELDS])
    response = call(app.test_client(), [("moodlewsrestformat", "json")], method="POST", form=body)
    assert_moodle_response(response, "json", NO_TOKEN)
