"""Refused calls (issue 22 #1): bad or expired tokens are recorded without the token and shown on the
Security tab, the rate-limit monitor and in the "failed auth" figures; retention bounds them."""

import re

import sqlalchemy as sa

from alxbridge.jobs.retention import run_retention
from alxbridge.moodle.tokens import create_token

from ..sitebuilder import DAY
from .support import PREFIX
from .ws_support import PROGRESS, SERVER, enable_web_service

SECURITY = f"{PREFIX}/monitoring_dashboard_new.php?tab=security"
RATE_LIMITS = f"{PREFIX}/check_rate_limit.php"


def stat(html, element_id):
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, f"no element #{element_id}"
    return match.group(1).strip()


def call(client, token, address):
    response = client.post(
        SERVER, data={"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": "json"},
        environ_base={"REMOTE_ADDR": address},
    )  # fmt: skip
    return response.get_json()


def test_bad_and_expired_tokens_are_counted_and_shown(app, site, admin_client):
    enable_web_service(site)
    acme = site.company("Acme")
    site.user("Olga", "Owner", companies=[acme])
    with site.database.begin() as connection:
        expired = create_token(connection, site.tables, "olga.owner", valid_until=site.now - 60, now=site.now - 120)
    client = app.test_client()
    before = admin_client.get(SECURITY).get_data(as_text=True)
    assert stat(before, "failed-auth") == "0" and stat(before, "refused-failed-auth") == "0"

    guesses = [call(client, f"guess{n:027d}", "198.51.100.7") for n in range(5)]
    assert {answer["errorcode"] for answer in guesses} == {"invalidtoken"}
    assert call(client, expired, "203.0.113.5")["errorcode"] == "accessexception"

    html = admin_client.get(SECURITY).get_data(as_text=True)
    assert stat(html, "failed-auth") == "6"  # 5 guesses + 1 expired token, none of them in the API log
    assert stat(html, "refused-failed-auth") == "6" and stat(html, "refused-blocked") == "0"
    assert stat(html, "refused-suspicious") == "1" and stat(html, "refused-tokens") == "6"
    suspicious = html[html.index('id="suspicious-ips"') :]
    assert "198.51.100.7" in suspicious[: suspicious.index("</table>")]
    assert "invalid token" in suspicious and "203.0.113.5" not in suspicious[: suspicious.index("</table>")]
    assert "expired token" in html
    monitor = admin_client.get(RATE_LIMITS).get_data(as_text=True)
    assert stat(monitor, "refused-failed-auth") == "6"
    refusals = site.tables.local_alxbridge_refusal
    with site.database.connect() as connection:
        rows = connection.execute(sa.select(refusals)).all()
        logged = connection.execute(sa.select(sa.func.count()).select_from(site.tables.local_alx_api_logs)).scalar()
    assert logged == 0
    assert sum(row.attempts for row in rows) == 6
    assert all(len(row.token_prefix) == 8 for row in rows) and expired not in repr(rows)  # never the token

    site.clock.advance(31 * DAY)  # past the longest retention of refused calls
    assert run_retention(site.database)["refused calls"] == len(rows)
    site.clock.advance(-31 * DAY)
