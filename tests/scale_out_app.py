"""``wsgi:app`` with the hourly sync fired every few seconds, for tests/test_scale_out.py only.

gunicorn serves it with the production ``gunicorn.conf.py``: every worker of every server starts its
own APScheduler with its first request, exactly as in production. Only the sync job's cron and
slot length are shortened (``ALX_TEST_SYNC_PERIOD`` seconds instead of an hour), so the test can watch all
those schedulers fire at the same instants and count the runs per slot. The job body, the
scheduler, the job lock and the slot check are the production ones.
"""

import dataclasses
import os

from alxbridge.jobs import scheduler
from wsgi import app

SYNC_PERIOD = int(os.environ["ALX_TEST_SYNC_PERIOD"])

scheduler.JOBS = tuple(
    dataclasses.replace(job, cron={"second": f"*/{SYNC_PERIOD}"}, period=SYNC_PERIOD) if job.name == "sync" else job
    for job in scheduler.JOBS
)

__all__ = ["app"]
