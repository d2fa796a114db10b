"""``create_token.php``: a token for one of a company's users, shown once, then listed by its first 8 characters."""

import re
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa

from alxbridge.moodle.siteconfig import site_timezone

from .form_support import read_form, submit
from .support import PREFIX, XSS, csrf_token
from .ws_support import PROGRESS, SERVER, enable_web_service, progress_items

PAGE = "/create_token.php"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
SHOWN_TOKEN = re.compile(r'id="new-token" value="([0-9a-f]{32})"')


@pytest.fixture(scope="module")
def acme(site):
    serviceid = enable_web_service(site)
    company = site.company("Acme Learning")
    alice = site.user("Alice", "Able", companies=[company])
    site.user("Sam", "Suspended", companies=[company], suspended=1)
    site.user("Dee", "Deleted", companies=[company], deleted=1)
    left = site.user("Lee", "Left")
    site.add_to_company(left, company, suspended=1)
    site.update_user(site.user("Una", "Unconfirmed", companies=[company]), confirmed=0)
    site.user("Nolan", "Nologin", companies=[company], auth="nologin")
    first = site.company("First Co")
    site.user("Fay", "Firstelsewhere", companies=[first, company])  # the API answers for First Co
    site.enrol(alice, site.course("Maths", companies=[company]))
    return {"id": company, "alice": alice, "service": serviceid}


@pytest.fixture(autouse=True)
def clean_tokens(site):
    yield
    with site.database.begin() as connection:
        connection.execute(sa.delete(site.tables.external_tokens))


def tokens(site):
    table = site.tables.external_tokens
    with site.database.connect() as connection:
        return connection.execute(sa.select(table)).all()


def page(client, companyid=None):
    response = client.get(f"{PREFIX}{PAGE}" + (f"?companyid={companyid}" if companyid else ""))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_only_active_members_can_be_chosen(admin_client, acme):
    html = page(admin_client, acme["id"])
    _, data = read_form(html, "create-token-form")
    assert data["companyid"] == [str(acme["id"])] and data["userid"] == [str(acme["alice"])]
    assert "Alice Able (alice.able, alice.able@example.com)" in html
    for name in ("Sam", "Dee", "Lee", "Una", "Nolan", "Fay"):
        assert f"{name} " not in html


def test_token_is_shown_once_works_and_is_listed_masked(admin_client, site, acme):
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form")
    assert response.status_code == 200  # rendered in the answer to the POST: never in a redirect or the session
    html = response.get_data(as_text=True)
    token = SHOWN_TOKEN.search(html).group(1)
    assert "Token created for Alice Able (alice.able) of Acme Learning. Copy it now: it is not shown again." in html
    [row] = tokens(site)
    assert (row.token, row.userid, row.externalserviceid, row.validuntil, row.iprestriction) == (
        token, acme["alice"], acme["service"], 0, None,
    )  # fmt: skip
    assert [item["firstname"] for item in progress_items(admin_client, token)] == ["Alice"]

    listing = page(admin_client, acme["id"])
    assert token not in listing and 'id="new-token"' not in listing
    assert f'<td class="font-monospace">{token[:8]}…</td>' in listing
    assert "<td>Alice Able</td>" in listing
    assert "<td>Acme Learning</td>" in listing and "<td>Never</td>" in listing


def site_timezone_of(site):
    with site.database.connect() as connection:
        return site_timezone(connection, site.tables)


def test_expiry_date_and_ip_restriction_are_stored(admin_client, site, acme):
    last_day = datetime.fromtimestamp(site.now, site_timezone_of(site)).date() + timedelta(days=10)
    response = submit(
        admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form",
        {"validuntil": last_day.isoformat(), "iprestriction": " 10.0.0.0/8, 192.168.1. "},
    )  # fmt: skip
    assert response.status_code == 200
    [row] = tokens(site)
    end_of_day = int(datetime.combine(last_day + timedelta(days=1), time(), site_timezone_of(site)).timestamp())
    assert (row.validuntil, row.iprestriction) == (end_of_day, "10.0.0.0/8,192.168.1.")
    assert f"Valid until: {(last_day + timedelta(days=1)).isoformat()} 00:00:00." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"userid": "99999"}, "User: choose one of the company&#39;s active users."),
        ({"validuntil": "2001-01-01"}, "Valid until: 2001-01-01 has passed; pick today or a later date."),
        ({"validuntil": "next week"}, "Valid until: &#39;next week&#39; is not a date; use YYYY-MM-DD"),
        ({"iprestriction": "10.0.0.0/8, intranet"}, "IP restriction: &#34;intranet&#34; is not an address"),
    ],
)
def test_invalid_requests_create_nothing(admin_client, site, acme, changes, message):
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form", changes)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "No token was created:" in html and message in html
    assert tokens(site) == []


def test_a_user_of_another_company_is_refused(admin_client, site, acme):
    other = site.company("Other Co")
    outsider = site.user("Otto", "Other", companies=[other])
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form", {"userid": str(outsider)})
    assert response.status_code == 400 and tokens(site) == []


def test_missing_service_is_explained(admin_client, site, acme):
    services = site.tables.external_services
    with site.database.begin() as connection:
        connection.execute(services.update().where(services.c.id == acme["service"]).values(shortname="renamed"))
    try:
        html = page(admin_client, acme["id"])
        assert "no external service with shortname alx_report_api_custom or alx_report_api" in html
        assert 'id="create-token-form"' not in html
    finally:
        with site.database.begin() as connection:
            connection.execute(
                services.update().where(services.c.id == acme["service"]).values(shortname="alx_report_api_custom")
            )


def test_names_are_escaped(admin_client, site, acme):
    company = site.company(XSS)
    site.user(XSS, XSS, companies=[company], username="hostile", email="x@example.com")
    html = page(admin_client, company)
    assert XSS not in html and f"New token for {ESCAPED}" in html and f"{ESCAPED} {ESCAPED} (hostile" in html
    response = submit(admin_client, f"{PAGE}?companyid={company}", "create-token-form")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert XSS not in html and f"Token created for {ESCAPED} {ESCAPED} (hostile) of {ESCAPED}." in html
    assert f"<td>{ESCAPED}</td>" in page(admin_client)  # the listing's company column


def test_page_renders_without_a_company(admin_client):
    html = page(admin_client)
    assert 'id="company-picker"' in html and 'id="create-token-form"' not in html


def revoke_page(client, tokenid, companyid):
    return client.get(f"{PREFIX}{PAGE}?companyid={companyid}&revoke={tokenid}")


def test_a_revoked_token_is_refused_at_once(admin_client, site, acme, caplog):
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form")
    token = SHOWN_TOKEN.search(response.get_data(as_text=True)).group(1)
    assert progress_items(admin_client, token)  # works before
    [row] = tokens(site)
    assert f'id="revoke-{row.id}"' in page(admin_client, acme["id"])

    confirmation = revoke_page(admin_client, row.id, acme["id"])
    html = confirmation.get_data(as_text=True)
    assert confirmation.status_code == 200 and f"Revoke token {token[:8]}…?" in html
    used = datetime.fromtimestamp(site.now, site_timezone_of(site)).strftime("%Y-%m-%d %H:%M:%S")
    assert f"The token of Alice Able (Acme Learning), last used {used}, is deleted." in html
    assert tokens(site) == [row]  # asking is not revoking

    revoked = submit(admin_client, f"{PAGE}?companyid={acme['id']}&revoke={row.id}", "revoke-form")
    assert revoked.status_code == 302 and revoked.headers["Location"].endswith(f"{PAGE}?companyid={acme['id']}")
    assert tokens(site) == []
    assert f"admin admin (id 2) revoked token id {row.id} of user id {acme['alice']}" in caplog.text
    assert token[:8] not in caplog.text  # the log names the token by its id only
    listing = admin_client.get(revoked.headers["Location"]).get_data(as_text=True)
    assert f"Token {token[:8]}… of Alice Able revoked: calls with it are refused from now on." in listing
    assert token not in listing and 'id="no-tokens"' in listing
    answer = admin_client.post(
        SERVER, data={"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": "json"}
    ).get_json()
    assert answer == {
        "exception": "moodle_exception", "errorcode": "invalidtoken", "message": "Invalid token - token not found",
    }  # fmt: skip


def test_revoking_a_token_twice_or_an_unknown_one_says_so(admin_client, site, acme):
    response = submit(admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form")
    assert response.status_code == 200
    [row] = tokens(site)
    form_page = revoke_page(admin_client, row.id, acme["id"]).get_data(as_text=True)
    data = {"action": "revoke", "tokenid": str(row.id), "companyid": str(acme["id"])}
    data["csrf_token"] = csrf_token(form_page)
    assert admin_client.post(f"{PREFIX}{PAGE}", data=data).status_code == 302
    again = admin_client.post(f"{PREFIX}{PAGE}", data=data, follow_redirects=True)
    assert "No token was revoked: it does not exist any more (revoked already, or expired)." in again.get_data(
        as_text=True
    )
    gone = revoke_page(admin_client, row.id, acme["id"])
    assert gone.status_code == 404 and 'id="revoke-gone"' in gone.get_data(as_text=True)
    assert 'id="revoke-form"' not in gone.get_data(as_text=True)


def test_revoking_needs_the_csrf_token_and_spares_other_services_tokens(admin_client, site, acme):
    other = site.api_service(tokens=0, shortname="other_service")
    with site.database.begin() as connection:
        foreign = connection.execute(
            sa.insert(site.tables.external_tokens).values(
                token="f" * 32,
                tokentype=0,
                userid=acme["alice"],
                externalserviceid=other,
                contextid=1,
                creatorid=2,
                validuntil=0,
                timecreated=site.now,
            )
        ).inserted_primary_key[0]
    submit(admin_client, f"{PAGE}?companyid={acme['id']}", "create-token-form")
    ours = next(row.id for row in tokens(site) if row.id != foreign)
    refused = admin_client.post(f"{PREFIX}{PAGE}", data={"action": "revoke", "tokenid": str(ours)})
    assert refused.status_code == 400 and len(tokens(site)) == 2
    assert revoke_page(admin_client, foreign, acme["id"]).status_code == 404
    form_page = page(admin_client, acme["id"])
    data = {"action": "revoke", "tokenid": str(foreign), "csrf_token": csrf_token(form_page)}
    assert admin_client.post(f"{PREFIX}{PAGE}", data=data).status_code == 302
    assert {row.id for row in tokens(site)} == {ours, foreign}


def test_the_list_says_which_tokens_are_refused_whatever_the_call(admin_client, site, acme):
    loner = site.user("Lone", "Wolf")
    sam = site.user("Sam", "Stopped", companies=[acme["id"]])
    owners = {"alice": acme["alice"], "expired": acme["alice"], "loner": loner, "sam": sam}
    ids = {}
    with site.database.begin() as connection:
        for label, userid in owners.items():
            ids[label] = connection.execute(
                sa.insert(site.tables.external_tokens).values(
                    token=f"{label:x<32}"[:32],
                    tokentype=0,
                    userid=userid,
                    externalserviceid=acme["service"],
                    contextid=1,
                    creatorid=2,
                    validuntil=site.now - 60 if label == "expired" else 0,
                    timecreated=site.now,
                )
            ).inserted_primary_key[0]
    site.update_user(sam, suspended=1)
    html = page(admin_client, acme["id"])
    statuses = {
        label: " ".join(
            re.sub(r"<[^>]+>", " ", html.split(f'id="token-status-{ids[label]}">')[1].split("</td>")[0]).split()
        )
        for label in ids
    }
    assert statuses == {
        "alice": "OK",
        "expired": "refused expired: Moodle deletes it on its next use",
        "loner": "refused owner in no active company: every call is refused (nocompanyassociation)",
        "sam": "refused owner suspended: every call is refused",
    }
