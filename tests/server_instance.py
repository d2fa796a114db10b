"""A private database server for fault tests: its own data directory and port, started, stopped and killed at will.

:class:`ServerInstance` is the life cycle both servers share; ``tests/mariadb_instance.py`` and
``tests/postgres_instance.py`` say how each one is initialised, started and asked. ``with Instance(workdir) as
server:`` initialises a data directory and starts the server on a free port; ``server.create_database(name)``
gives the URL of a fresh database in it; ``server.kill()`` sends SIGKILL (a crash: the server recovers on the
next start), ``server.stop()`` a clean shutdown that ends every session, ``server.start()`` brings it back on
the same data directory and port and returns once it answers. Nothing here touches the shared test servers.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time


class ServerMissing(RuntimeError):
    """The server's programs are not installed."""


class ServerFailed(RuntimeError):
    """The server did not start, or did not stop, in time; the message quotes its log."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerInstance:
    """Subclasses give ``name``, ``stop_signal``, :meth:`initialised`, :meth:`initialise`, :meth:`command`,
    :meth:`execute`, :meth:`url`, :meth:`create_database` and ``log_file``."""

    name = "server"
    stop_signal = signal.SIGTERM
    popen_options = {}  # noqa: RUF012 - read only

    def __init__(self, port=None):
        self.port = port or free_port()
        self.process = None
        self.starts = 0

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, timeout=60):
        """Start the server (initialising its data the first time) and wait until it answers."""
        assert not self.running, "the server is already running"
        if not self.initialised():
            self.initialise()
        # Its own session: a Ctrl-C of pytest must not reach the server before the fixture stops it.
        with self.output() as output:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                start_new_session=True, **self.popen_options,
            )  # fmt: skip
        self.starts += 1
        self.wait_until_ready(timeout)
        return self

    def output(self):
        """Where the server's own output goes (a server that writes its log elsewhere: nowhere)."""
        return contextlib.nullcontext(subprocess.DEVNULL)

    def wait_until_ready(self, timeout=60):
        """Return once ``SELECT 1`` succeeds over TCP; fail with the log if the server dies or is too slow."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                self.execute("SELECT 1")
                return
            except Exception as error:  # noqa: BLE001 - not up yet: refused, handshake, still recovering
                last_error = error
                time.sleep(0.05)
        raise ServerFailed(f"{self.name} did not answer within {timeout} s ({last_error}): {self.log_tail()}")

    def stop(self, timeout=60):
        """A clean shutdown: sessions are closed, open transactions rolled back."""
        self._signal(self.stop_signal, timeout)

    def kill(self, timeout=30):
        """SIGKILL to the server and every process it started: a crash; committed transactions survive."""
        self._signal(signal.SIGKILL, timeout, group=True)

    def restart(self, timeout=60):
        if self.running:
            self.stop(timeout)
        return self.start(timeout)

    def _signal(self, number, timeout, group=False):
        if not self.running:
            return
        if group:  # the server's own session, started above: its processes and no other
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, number)
        else:
            self.process.send_signal(number)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            raise ServerFailed(f"{self.name} ignored signal {number} for {timeout} s: {self.log_tail()}") from None
        self._wait_port_closed()

    def _wait_port_closed(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    def close(self):
        """Stop the server if it runs (SIGKILL if a clean stop takes too long)."""
        if self.running:
            with contextlib.suppress(ServerFailed):
                self.stop(timeout=30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def log_tail(self, lines=15):
        with contextlib.suppress(OSError):
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"
