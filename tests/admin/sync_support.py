"""Helpers of the data and sync page tests: a small company site, starting a job through a page and waiting for it."""

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import sqlalchemy as sa

from .support import PREFIX, XSS, post_form, sign_in

JOB_TIMEOUT = 60


@dataclass
class Companies:
    acme: int
    hostile: int  # named XSS, with a course and a learner named XSS
    maths: object
    markup_course: object
    ana: int  # Acme: completed Maths
    ben: int  # Acme: one of two modules done -> in_progress, 50 %
    cy: int  # Acme: enrolled, nothing done -> not_started
    mallory: int  # the hostile company's learner


def build_companies(site):
    acme = site.company("Acme")
    hostile = site.company(XSS)
    maths = site.course("Maths", [acme], modules=(1, 1))
    markup_course = site.course(XSS, [hostile], modules=(1,))
    ana, ben, cy = (site.user(name, "Learner", companies=[acme]) for name in ("Ana", "Ben", "Cy"))
    mallory = site.user(XSS, XSS, companies=[hostile], username="mallory", email="mallory@example.com")
    for user in (ana, ben, cy):
        site.enrol(user, maths)
    site.enrol(mallory, markup_course)
    site.course_completion(ana, maths, timecompleted=site.now - 3600, timestarted=site.now - 7200)
    site.complete_module(ben, maths.modules[0])
    return Companies(acme, hostile, maths, markup_course, ana, ben, cy, mallory)


def job_token(response):
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlparse(response.headers["Location"])
    assert location.path == f"{PREFIX}/sync_job.php", response.headers["Location"]
    return parse_qs(location.query)["job"][0]


def wait_for_job(client, token, timeout=JOB_TIMEOUT):
    """Poll the job's JSON endpoint until it is no longer running; return its data."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{PREFIX}/sync_job.json?job={token}")
        assert response.status_code == 200, response.get_data(as_text=True)
        data = response.get_json()
        if not data["running"]:
            return data
        assert time.monotonic() < deadline, f"job {token} still running after {timeout} s: {data}"
        time.sleep(0.05)


def run_job_through(client, path, data, page=None):
    """Start a job by posting ``data`` to ``path`` (with the CSRF token of ``page``, default ``path``), wait for it,
    return its final data."""
    return wait_for_job(client, job_token(post_form(client, path, data, page)))


def run_job_signed_in(app, path, data, page=None):
    """:func:`run_job_through` with a client of its own, signed in; the job must succeed."""
    client = app.test_client()
    sign_in(client)
    data = run_job_through(client, path, data, page)
    assert data["status"] == "success", data
    return data


def count_rows(database, table, *conditions):
    with database.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar()


def run_ids(database):
    runs = database.tables.local_alxbridge_sync_run
    with database.connect() as connection:
        return [runid for (runid,) in connection.execute(sa.select(runs.c.id).order_by(runs.c.id))]


def table_rows(body, table_id):
    """The text of each cell of the table inside the element ``table_id``, row by row (header row first)."""
    table = body.split(f'id="{table_id}"')[1].split("</table>")[0]
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]
