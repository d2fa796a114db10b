"""A real HTTP server for an app (werkzeug's, threaded) on 127.0.0.1 and a free port, for the length of a block."""

import contextlib
import threading

from werkzeug.serving import make_server


@contextlib.contextmanager
def live_server(app):
    """Serve ``app`` in a thread; yields the base URL (``http://127.0.0.1:<port>``)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
