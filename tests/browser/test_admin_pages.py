"""A Moodle site admin's journey through the admin pages in a real browser."""

from .conftest import PREFIX, screenshot


def admin_get_pages(app):
    """Every GET page of the admin blueprint (the static files and login/logout aside), by path."""
    skipped = {"admin.static", "admin.login", "admin.index"}
    return sorted(
        {
            rule.rule
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("admin.")
            and rule.endpoint not in skipped
            and "GET" in rule.methods
            and not rule.arguments
            and rule.rule.endswith(".php")
        }
    )


def test_sign_in_shows_the_control_center_with_live_numbers(admin_page, demo):
    page, watcher = admin_page
    assert page.inner_text("h1") == "ALX Report API Control Center"
    assert int(page.inner_text("#total-records")) > 0
    assert page.inner_text("#active-companies") == "3"
    screenshot(page, "control_center")
    assert watcher.problems == []


def test_every_admin_page_renders_without_errors(admin_page, demo):
    page, watcher = admin_page
    _, _, app = demo
    paths = admin_get_pages(app)
    assert len(paths) >= 2
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        if response.headers["content-type"].startswith("application/json"):
            assert isinstance(response.json(), dict), path
            continue
        assert page.locator("h1").count() == 1, path
        for canvas in page.locator("canvas").all():
            assert canvas.get_attribute("data-drawn") == "1", f"{path}: chart {canvas.get_attribute('id')} not drawn"
        screenshot(page, path.rsplit("/", 1)[-1].removesuffix(".php"))
    assert watcher.problems == []


def test_a_wrong_password_stays_on_the_login_page(browser, demo):
    base_url, logins, _ = demo
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto(f"{PREFIX}/login.php")
    page.fill("#username", logins.admin_username)
    page.fill("#password", "not-the-password")
    page.click("#loginbtn")
    assert "Invalid login" in page.inner_text("#loginerrormessage")
    context.close()
