"""moodlepy (a Moodle client from PyPI), through its public API, against a live bridge on each backend.

The client decodes success bodies into its own dataclasses and turns an error object into
``MoodleException(**data)``: any key Moodle never sends would make that a ``TypeError``.
"""

import pytest
from moodle import Moodle, MoodleException
from moodle.core.webservice import SiteInfo

from .live_server import live_server
from .reference_site import load_reference_site, reference_app
from .rest_support import BAD_TOKEN, OTHER_SERVICE, PROGRESS, RELAXED_LIMITS, SITE_INFO, U10


@pytest.fixture(scope="module")
def bridge(database_url):
    """The reference site, served over HTTP; yields server.php's URL."""
    app = reference_app(database_url, ALX_DEBUG_LEVEL=15, **RELAXED_LIMITS)
    database = app.extensions["alx_database"]
    load_reference_site(database)
    with live_server(app) as base_url:
        yield base_url
    database.engine.dispose()


def server_url(base_url):
    return base_url + "/webservice/rest/server.php"


def test_site_info_through_the_client(bridge):
    info = Moodle(server_url(bridge), U10).core.webservice.get_site_info()
    assert isinstance(info, SiteInfo)
    assert (info.sitename, info.username, info.userid, info.siteid) == ("Ref", "u10", 10, 1)
    assert (info.firstname, info.lastname, info.fullname) == ("Zoë", "Ångström", "Zoë Ångström")
    assert (info.lang, info.theme, info.sitecalendartype, info.usercalendartype) == (
        "en",
        "boost",
        "gregorian",
        "gregorian",
    )
    assert info.siteurl == bridge
    assert info.userpictureurl == f"{bridge}/theme/image.php/boost/core/1795304601/u/f1"
    assert [(f.name, f.version) for f in info.functions] == [(PROGRESS, "2024100801"), (SITE_INFO, "2022112810")]
    assert (info.release, info.version) == ("4.1.10 (Build: 20240422)", "2022112810")
    assert [(a.name, a.value) for a in info.advancedfeatures][:2] == [("usecomments", 1), ("usetags", 1)]
    assert (info.usercanmanageownfiles, info.userissiteadmin) == (True, False)
    assert (info.userquota, info.usermaxuploadfilesize, info.userhomepage) == (104857600, 2097152, 1)
    assert (info.downloadfiles, info.uploadfiles) == (0, 0)
    assert info.userprivateaccesskey == "1016adcb984ef3d96dfee632c3a32ffb"


def test_site_info_by_post_call(bridge):
    """``Moodle(...)(wsfunction)`` posts: token and format in the query, parameters in a form body."""
    data = Moodle(server_url(bridge), U10)(SITE_INFO, serviceshortnames=["alx_report_api_custom"])
    assert data["username"] == "u10"
    assert data["functions"][1] == {"name": SITE_INFO, "version": "2022112810"}


@pytest.mark.parametrize("how", ["get", "post"])
def test_invalid_token_raises_the_clients_moodle_exception(bridge, how):
    client = Moodle(server_url(bridge), BAD_TOKEN)
    with pytest.raises(MoodleException) as raised:
        if how == "get":
            client.core.webservice.get_site_info()
        else:
            client(SITE_INFO)
    error = raised.value
    assert (error.exception, error.errorcode, error.message) == (
        "moodle_exception",
        "invalidtoken",
        "Invalid token - token not found",
    )
    assert error.debuginfo == ""  # Moodle sends none for this error: the client's default stays


def test_error_with_debuginfo_fits_the_client(bridge):
    """At debug level 15 the envelope carries debuginfo, which the client's exception accepts."""
    with pytest.raises(MoodleException) as raised:
        Moodle(server_url(bridge), OTHER_SERVICE)(PROGRESS)
    error = raised.value
    assert (error.exception, error.errorcode, error.message) == (
        "webservice_access_exception",
        "accessexception",
        "Access control exception",
    )
    assert error.debuginfo.startswith(f"Access to the function {PROGRESS}() is not allowed.")


def test_unexpected_parameter_fits_the_client(bridge):
    with pytest.raises(MoodleException) as raised:
        Moodle(server_url(bridge), U10)(SITE_INFO, foo="1")
    assert raised.value.errorcode == "invalidparameter"
    assert raised.value.debuginfo == "Unexpected keys (foo) detected in parameter array."
