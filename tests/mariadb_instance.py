"""A private MariaDB server for fault tests (``tests/server_instance.py``): ``mariadb-install-db`` initialises
its datadir (root without a password, over TCP on 127.0.0.1), ``mariadbd`` serves it on its own port and
socket. SIGTERM is MariaDB's clean shutdown.

When the MariaDB programs are missing, :class:`MariaDBMissing` is raised; the fixtures turn it into
a failure, never a skip.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .server_instance import ServerFailed, ServerInstance, ServerMissing

INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
SERVER = "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else shutil.which("mariadbd") or "mariadbd"
DATABASE = "moodle"
SOCKET_PATH_LIMIT = 100  # AF_UNIX paths are limited to 108 bytes


class MariaDBMissing(ServerMissing):
    """mariadb-install-db or mariadbd is not installed."""


class MariaDBInstance(ServerInstance):
    """One ``mariadbd`` on ``workdir/data``; ``url()`` is a SQLAlchemy URL of its ``moodle`` database."""

    name = "mariadbd"

    def __init__(self, workdir, port=None, buffer_pool="64M"):
        for program in (INSTALL_DB, SERVER):
            if not Path(program).exists():
                raise MariaDBMissing(
                    f"{program} is not installed (apt-get install mariadb-server); ./run tests installs it"
                )
        super().__init__(port)
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.log_file = self.workdir / "mariadbd.err"
        self.buffer_pool = buffer_pool
        socket_dir = self.workdir
        if len(str(socket_dir / "mysqld.sock")) > SOCKET_PATH_LIMIT:
            socket_dir = Path(tempfile.mkdtemp(prefix="alxdb"))
        self.socket = socket_dir / "mysqld.sock"

    def _as_root(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def initialised(self):
        return (self.datadir / "mysql").is_dir()

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
            raise ServerFailed(f"mariadb-install-db failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")

    def command(self):
        return [
            SERVER,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            f"--socket={self.socket}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.workdir / 'mariadbd.pid'}",
            f"--log-error={self.log_file}",
            f"--tmpdir={self.workdir}",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            f"--innodb-buffer-pool-size={self.buffer_pool}",
            "--max-connections=200",
            *self._as_root(),
        ]

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
