"""Fixtures of the get_course_progress tests: one reference site per module, reset before each test."""

import pytest

from ..progress_support import ProgressSite
from ..rest_support import SiteChanges


@pytest.fixture(scope="module")
def site(database_url):
    site = ProgressSite(database_url)
    yield site
    site.close()


@pytest.fixture(autouse=True)
def clean(site):
    site.reset()


@pytest.fixture
def changes(site):
    changes = SiteChanges(site.database)
    yield changes
    changes.restore()
