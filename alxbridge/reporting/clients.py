"""Which kind of program calls the API, read from the User-Agent it sends (and logs).

The kind matters for one decision: Power Query (Power BI Desktop, the Power BI Service and its
on-premises gateway, Excel's "Get Data") *replaces* its table on every refresh, so an incremental
answer would leave a dashboard showing only the changed rows. Every Power Query host runs the same
mashup engine, whose ``Web.Contents`` sends ``Microsoft.Data.Mashup
(https://go.microsoft.com/fwlink/?LinkID=304225)`` (Microsoft's Power Query connector documentation
shows it; the product version is not part of it). The other kinds only label calls on the admin pages.
"""

POWER_QUERY, POSTMAN, SCRIPT, BROWSER, OTHER = "power_query", "postman", "script", "browser", "other"
KIND_LABELS = {
    POWER_QUERY: "Power Query (Power BI, Excel)",
    POSTMAN: "Postman / newman",
    SCRIPT: "Scripts (curl, Python, PowerShell, …)",
    BROWSER: "Browsers",
    OTHER: "Other or none",
}
# Lower-case User-Agent fragments, tried in this order: PowerShell's agent also says "Mozilla/5.0".
_FRAGMENTS = (
    ("microsoft.data.mashup", POWER_QUERY),
    ("postmanruntime/", POSTMAN),
    ("powershell/", SCRIPT),
    ("curl/", SCRIPT),
    ("wget/", SCRIPT),
    ("python-", SCRIPT),  # python-requests, python-urllib3, python-httpx
    ("python/", SCRIPT),
    ("aiohttp/", SCRIPT),
    ("go-http-client/", SCRIPT),
    ("okhttp/", SCRIPT),
    ("java/", SCRIPT),
    ("apache-httpclient/", SCRIPT),
    ("node-fetch", SCRIPT),
    ("axios/", SCRIPT),
    ("guzzlehttp/", SCRIPT),
    ("libwww-perl/", SCRIPT),
    ("mozilla/", BROWSER),
)


def client_kind(user_agent):
    """One of the ``KIND_LABELS`` keys for a User-Agent string (``None`` or empty: ``other``)."""
    agent = (user_agent or "").lower()
    return next((kind for fragment, kind in _FRAGMENTS if fragment in agent), OTHER)


def replaces_its_table(user_agent):
    """Whether the caller throws its previous answer away on every refresh (Power Query does)."""
    return client_kind(user_agent) == POWER_QUERY
