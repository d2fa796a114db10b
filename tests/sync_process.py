"""Run an ``alx`` command in this process, stopping at a chosen log message (for lock and crash tests).

``python tests/sync_process.py PATTERN RELEASE_FILE sync [--full] …``: when a log record of the
``alxbridge`` loggers matches the regular expression PATTERN, print ``PAUSED`` and wait until
RELEASE_FILE exists — so a test can start a second process against a held lock, or kill this one
in the middle of a company with its writes done but not committed. Nothing in the bridge knows
about this: the pause rides on the bridge's own debug logging.
"""

import logging
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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
    from alxbridge.console import main as alxbridge

    sys.argv = ["alxbridge", *command]
    alxbridge()


if __name__ == "__main__":
    main()
