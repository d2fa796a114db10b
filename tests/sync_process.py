"""Run an ``alx`` command in this process, stopping at a chosen log message (for lock and crash tests).

``python tests/sync_process.py PATTERN RELEASE_FILE sync [--full] …``: when a log record of the
``alxbridge`` loggers matches the regular expression PATTERN, print ``PAUSED`` and wait until
RELEASE_FILE exists — so a test can start a second process against a held lock, or kill this one
in the middle of a company with its writes done but not committed. Nothing in the bridge knows
about this: the pause rides on the bridge's own debug logging.

Tests start it with :class:`SyncProcess`.
"""

import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
TIMEOUT = 60


class SyncProcess:
    """This script in a child process against the database at ``url``; its output lines arrive on a queue as they are
    printed, and all of them are kept in ``output``."""

    def __init__(self, url, pause_at, release, *command):
        environment = {**os.environ, "ALX_DATABASE_URL": url, "ALX_SCHEDULER": "off", "ALX_SECRET_KEY": "t"}
        self.popen = subprocess.Popen(
            [sys.executable, str(SCRIPT), pause_at, str(release), *command],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.popen.stdout:
            self.output.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self):
        """The next line printed; ``None`` once the output has ended."""
        return self.lines.get(timeout=TIMEOUT)

    def wait_for(self, wanted):
        while (line := self.next_line()) != wanted:
            assert line is not None, f"the process ended before {wanted!r}:\n" + "\n".join(self.output)

    def finish(self):
        """Wait for the process to end (killing it after the timeout) and for the rest of its output; its exit code."""
        try:
            self.popen.wait(timeout=TIMEOUT)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
        while self.next_line() is not None:
            pass
        return self.popen.returncode


class PauseAt(logging.Handler):
    def __init__(self, pattern, release):
        super().__init__(logging.DEBUG)
        self.pattern = re.compile(pattern)
        self.release_file = Path(release)

    def emit(self, record):
        if self.pattern.search(record.getMessage()):
            print("PAUSED", flush=True)
            while not self.release_file.exists():
                time.sleep(0.05)


def main():
    pattern, release, *command = sys.argv[1:]
    logger = logging.getLogger("alxbridge")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(PauseAt(pattern, release))
    from alxbridge.cli import main as alxbridge

    sys.argv = ["alxbridge", *command]
    alxbridge()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
