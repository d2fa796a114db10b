"""Forward a call the bridge does not implement to Moodle itself (``ALX_MOODLE_UPSTREAM``).

Only ``/webservice/rest/server.php`` is ever forwarded, only to the configured upstream: the bridge
is no open proxy. Method, query, body and content type go as received; status, headers and body come
back streamed.
"""

import string
from urllib.parse import quote

import urllib3
from flask import Response, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from .exceptions import MoodleError

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
SERVER_PATH = "/webservice/rest/server.php"
_pool = urllib3.PoolManager(num_pools=4, maxsize=16)


def upstream_unreachable(reason):
    return MoodleError(
        "moodle_exception", "upstreamunreachable", "The Moodle site behind ALX Bridge cannot be reached", reason
    )


def _body(request):
    """The body to forward; none past ``ALX_MAX_REQUEST_BYTES``, which stays unread (as :mod:`.call` leaves it)."""
    try:
        return request.get_data() or None
    except RequestEntityTooLarge:
        return None


def forward(request, upstream, timeout=100.0):
    """Send ``request`` to ``upstream`` + server.php and stream Moodle's answer back."""
    url = upstream.rstrip("/") + SERVER_PATH
    # Raw bytes a client sent unencoded (é as two UTF-8 bytes) are percent-encoded once, as Moodle's PHP reads
    # them; what was already encoded stays as it is.
    query = quote(request.query_string, safe=string.punctuation)
    if query:
        url += "?" + query
    headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
    forwarded_for = ", ".join(filter(None, (request.headers.get("X-Forwarded-For"), request.remote_addr)))
    headers["X-Forwarded-For"] = forwarded_for
    try:
        answer = _pool.request(
            request.method, url, body=_body(request), headers=headers,
            preload_content=False, redirect=False, retries=False, timeout=timeout,
        )  # fmt: skip
    except urllib3.exceptions.HTTPError as error:
        reason = str(error).replace(query, "…") if query else str(error)  # the query holds the token
        raise upstream_unreachable(reason) from None

    def body():
        try:
            yield from answer.stream(64 * 1024, decode_content=False)
        finally:
            answer.release_conn()

    response_headers = [(name, value) for name, value in answer.headers.items() if name.lower() not in HOP_BY_HOP]
    return Response(stream_with_context(body()), status=answer.status, headers=response_headers)
