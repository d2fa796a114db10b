"""A private MariaDB server for fault tests: its own datadir, port and socket, started, stopped and killed at will.

``with MariaDBInstance(workdir) as server:`` initialises a datadir with ``mariadb-install-db`` (root
without a password, over TCP on 127.0.0.1) and starts ``mariadbd`` on a free port;
``server.create_database(name)`` gives the URL of a fresh database in it; ``server.kill()``
sends SIGKILL (a crash: InnoDB recovers on the next start), ``server.stop()`` SIGTERM (a clean
shutdown), ``server.start()`` brings it back on the same datadir and port and returns once it answers.
Nothing here touches the shared test server of ``ALX_TEST_MYSQL_URL``.

When the MariaDB programs are missing, :class:`MariaDBMissing` is raised; the fixtures turn it into
a failure, never a skip.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
SERVER = "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else shutil.which("mariadbd") or "mariadbd"
DATABASE = "moodle"
SOCKET_PATH_LIMIT = 100  # AF_UNIX paths are limited to 108 bytes


class MariaDBMissing(RuntimeError):
    """mariadb-install-db or mariadbd is not installed."""


class MariaDBFailed(RuntimeError):
    """The server did not start, or did not stop, in time; the message quotes its error log."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MariaDBInstance:
    """One ``mariadbd`` on ``workdir/data``; ``url()`` is a SQLAlchemy URL of its ``moodle`` database."""

    def __init__(self, workdir, port=None, buffer_pool="64M"):
        for program in (INSTALL_DB, SERVER):
            if not Path(program).exists():
                raise MariaDBMissing(
                    f"{program} is not installed (apt-get install mariadb-server); ./run tests installs it"
                )
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.error_log = self.workdir / "mariadbd.err"
        self.port = port or free_port()
        self.buffer_pool = buffer_pool
        socket_dir = self.workdir
        if len(str(socket_dir / "mysqld.sock")) > SOCKET_PATH_LIMIT:
            socket_dir = Path(tempfile.mkdtemp(prefix="alxdb"))
        self.socket = socket_dir / "mysqld.sock"
        self.process = None
        self.starts = 0

    # --- lifecycle -----------------------------------------------------------------------------------

    def _as_root(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def initialise(self):
        """``mariadb-install-db`` into an empty datadir (done once, by the first :meth:`start`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            *self._as_root(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise MariaDBFailed(f"mariadb-install-db failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, timeout=60):
        """Start ``mariadbd`` (initialising the datadir the first time) and wait until it answers."""
        assert not self.running, "the server is already running"
        if not (self.datadir / "mysql").is_dir():
            self.initialise()
        command = [
            SERVER,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            f"--socket={self.socket}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.workdir / 'mariadbd.pid'}",
            f"--log-error={self.error_log}",
            f"--tmpdir={self.workdir}",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            f"--innodb-buffer-pool-size={self.buffer_pool}",
            "--max-connections=200",
            *self._as_root(),
        ]
        # Its own session: a Ctrl-C of pytest must not reach the server before the fixture stops it.
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.starts += 1
        self.wait_until_ready(timeout)
        return self

    def wait_until_ready(self, timeout=60):
        """Return once ``SELECT 1`` succeeds over TCP; fail with the error log if the server dies or is too slow."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise MariaDBFailed(f"mariadbd exited with {self.process.returncode}: {self.log_tail()}")
            try:
                self.execute("SELECT 1")
                return
            except Exception as error:  # noqa: BLE001 - not up yet: refused, handshake, still recovering
                last_error = error
                time.sleep(0.05)
        raise MariaDBFailed(f"mariadbd did not answer within {timeout} s ({last_error}): {self.log_tail()}")

    def stop(self, timeout=60):
        """SIGTERM: a clean shutdown (connections are closed, open transactions rolled back)."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self, timeout=30):
        """SIGKILL: a crash; committed transactions survive, the rest is rolled back by recovery at the next start."""
        self._signal(signal.SIGKILL, timeout)

    def restart(self, timeout=60):
        if self.running:
            self.stop(timeout)
        return self.start(timeout)

    def _signal(self, number, timeout):
        if not self.running:
            return
        self.process.send_signal(number)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            raise MariaDBFailed(f"mariadbd ignored signal {number} for {timeout} s: {self.log_tail()}") from None
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
            with contextlib.suppress(MariaDBFailed):
                self.stop(timeout=30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- access -------------------------------------------------------------------------------------

    def url(self, database=DATABASE):
        return f"mysql+mysqldb://root@127.0.0.1:{self.port}/{database or ''}?charset=utf8mb4"

    def create_database(self, name=DATABASE):
        """An empty database with Moodle's collation (dropped first if it exists); returns its URL."""
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return self.url(name)

    def execute(self, sql):
        """Run one statement as root over TCP (a fresh connection, so it works right after a restart)."""
        import MySQLdb

        connection = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2)
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = cursor.fetchall()
            connection.commit()
            return rows
        finally:
            connection.close()

    def log_tail(self, lines=15):
        with contextlib.suppress(OSError):
            return " | ".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        return "(no error log)"
