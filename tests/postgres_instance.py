"""A private PostgreSQL server for fault tests (``tests/server_instance.py``): ``initdb`` makes a UTF8 cluster
whose ``postgres`` user signs in without a password from 127.0.0.1, ``postgres`` serves it on its own port.
SIGINT is PostgreSQL's fast shutdown (it ends every session; SIGTERM would wait for the pooled ones to leave).

PostgreSQL refuses to run as root: under root the cluster lives in a directory of its own, owned by the
``postgres`` system user, and the server runs as that user. When the programs are missing,
:class:`PostgresMissing` is raised; the fixtures turn it into a failure, never a skip.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .server_instance import ServerFailed, ServerInstance, ServerMissing

BIN = Path((sorted(glob.glob("/usr/lib/postgresql/*/bin")) or [os.path.dirname(shutil.which("initdb") or "/")])[-1])
DATABASE = "moodle"
SYSTEM_USER = "postgres"


class PostgresMissing(ServerMissing):
    """initdb or postgres is not installed."""


class PostgresInstance(ServerInstance):
    """One ``postgres`` cluster; ``url()`` is a SQLAlchemy URL of its ``moodle`` database."""

    name = "postgres"
    stop_signal = signal.SIGINT

    def __init__(self, workdir, port=None):
        for program in ("initdb", "postgres"):
            if not (BIN / program).exists():
                raise PostgresMissing(f"{BIN / program} is not installed (apt-get install postgresql)")
        super().__init__(port)
        self.as_root = os.geteuid() == 0
        # Under root, pytest's tmp dirs are closed to the postgres user; a short path also keeps the socket legal.
        self.workdir = Path(tempfile.mkdtemp(prefix="alxpg")) if self.as_root else Path(workdir)
        self.datadir = self.workdir / "data"
        self.log_file = self.workdir / "postgres.log"
        if self.as_root:
            account = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.workdir, account.pw_uid, account.pw_gid)
            self.popen_options = {"user": SYSTEM_USER, "group": account.pw_gid}

    def initialised(self):
        return (self.datadir / "PG_VERSION").exists()

    def initialise(self):
        """``initdb`` into an empty directory (done once, by the first :meth:`start`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [BIN / "initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                   "--locale=C.UTF-8", "--no-instructions"]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, **self.popen_options
        )  # fmt: skip
        if done.returncode != 0:
            raise ServerFailed(f"initdb failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")

    def command(self):
        return [
            BIN / "postgres", "-D", self.datadir, "-p", str(self.port), "-k", self.workdir,
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "shared_buffers=32MB",
        ]  # fmt: skip

    def output(self):
        """PostgreSQL logs to its standard error: into ``postgres.log``."""
        return open(self.log_file, "ab")  # closed by the caller's with block

    def url(self, database=DATABASE):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database or 'postgres'}"

    def create_database(self, name=DATABASE):
        """An empty UTF8 database (dropped first if it exists); returns its URL."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        return self.url(name)

    def execute(self, sql):
        """Run one statement as ``postgres`` over TCP (a fresh connection, so it works right after a restart)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=2, autocommit=True
        ) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def close(self):
        super().close()
        if self.as_root:
            shutil.rmtree(self.workdir, ignore_errors=True)
