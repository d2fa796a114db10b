"""The plugin's archived pages still answer at their paths, by sending the admin to the page that replaced them."""

import pytest

from .support import PREFIX


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("fix_service.php", "/fix_webservice_access.php"),
        ("service_verification.php", "/fix_webservice_access.php"),
        ("verify_reporting_data.php?companyid=7", "/view_reporting_data.php?companyid=7"),
        ("cache_verification.php", "/unified_monitoring_dashboard.php#database"),
    ],
)
def test_an_archived_page_redirects_to_its_successor(admin_client, old, new):
    response = admin_client.get(f"{PREFIX}/{old}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{PREFIX}{new}"
