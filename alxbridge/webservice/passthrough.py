"""Forward a call the bridge does not implement to Moodle itself (``ALX_MOODLE_UPSTREAM``).

Only ``/webservice/rest/server.php`` is ever forwarded, only to the configured upstream: the bridge
is no open proxy. Method, query, body and content type go as received; status, headers and body come
back streamed.

Moodle must see the call as it sees any request nginx passes it straight (``deploy/nginx-alxbridge.conf``):
its set-up (``initialise_fullme()`` in ``lib/setuplib.php``) compares the request's Host and script path
with ``$CFG->wwwroot`` and answers anything else with a ``303`` to wwwroot, an HTML page. So the forward
carries the client's public Host (an IOMAD company hostname stays that hostname, for IOMAD to judge) and
the ``X-Forwarded-*`` headers nginx would set, and goes to wwwroot's path on Moodle's own web server. Moodle
must not set ``$CFG->reverseproxy`` for this (the Host is its own: ``reverseproxyabused``); with TLS ending
at nginx it sets ``$CFG->sslproxy``.
"""

import string
from urllib.parse import quote, urlsplit

import urllib3
from flask import Response, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from .exceptions import MoodleError

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
# Describe the client to Moodle; set here from what the bridge trusts, never copied from the request.
FORWARDING = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-prefix",
              "forwarded", "x-real-ip"}  # fmt: skip
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


def _as_nginx_describes_it(request):
    """Host and ``X-Forwarded-*`` as the shipped nginx site sends them to Moodle, for this request's client.

    Behind a trusted proxy (ProxyFix) ``request`` already holds the client's scheme, Host and address;
    ``X-Forwarded-For`` is replaced, not extended, as nginx replaces it: one trusted address, no forgeries.
    """
    try:
        port = urlsplit("//" + request.host).port
    except ValueError:  # a Host with a port that is no number: Moodle will judge that Host
        port = None
    port = port or (443 if request.is_secure else 80)
    headers = {
        "Host": request.host, "X-Forwarded-Proto": request.scheme, "X-Forwarded-Host": request.host,
        "X-Forwarded-Port": str(port),
    }  # fmt: skip
    if request.remote_addr:
        headers["X-Forwarded-For"] = request.remote_addr
    return headers


def forward(request, upstream, path="", timeout=100.0):
    """Send ``request`` to server.php under ``path`` (wwwroot's) at ``upstream`` and stream Moodle's answer back."""
    url = upstream.rstrip("/") + path + SERVER_PATH
    # Raw bytes a client sent unencoded (é as two UTF-8 bytes) are percent-encoded once, as Moodle's PHP reads
    # them; what was already encoded stays as it is.
    query = quote(request.query_string, safe=string.punctuation)
    if query:
        url += "?" + query
    headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP | FORWARDING}
    headers.update(_as_nginx_describes_it(request))
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
