"""Real HTTP servers on 127.0.0.1 and a free port, served by a thread for the length of a block: the bridge's app
(werkzeug's threaded server) or a stand-in written as an ``http.server`` handler (Moodle, an upstream)."""

import contextlib
import threading
from http.server import ThreadingHTTPServer

from werkzeug.serving import make_server


@contextlib.contextmanager
def serving(server):
    """Run ``server.serve_forever`` in a thread until the block ends, then shut the server down and close it."""
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class StandIn:
    """A stand-in server for ``handler_class`` (an ``http.server`` handler), served while used as a context."""

    def __init__(self, handler_class):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.address = f"127.0.0.1:{self.server.server_port}"
        self.url = f"http://{self.address}"
        self._serving = serving(self.server)

    def __enter__(self):
        self._serving.__enter__()
        return self

    def __exit__(self, *exc):
        self._serving.__exit__(*exc)


@contextlib.contextmanager
def live_server(app):
    """Serve ``app`` in a thread; yields the base URL (``http://127.0.0.1:<port>``)."""
    with serving(make_server("127.0.0.1", 0, app, threaded=True)) as server:
        yield f"http://127.0.0.1:{server.server_port}"
