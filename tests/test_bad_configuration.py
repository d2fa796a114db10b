"""A wrong database URL, prefix or site gives a one-line error naming the fix, never a traceback."""

import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa

import config

from .conftest import ALL_BACKENDS, make_app


def invoke(url, *args, **config):
    app = make_app(url, **config)
    return app.test_cli_runner().invoke(args=["alx", "repair-tables", *args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2  # could not run; 1 is for "differences left"
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_unreachable_server_names_the_url_and_the_setting():
    result = invoke("mysql+mysqldb://alx:secret@127.0.0.1:1/moodle")
    assert_one_line_error(result, "cannot connect to mysql+mysqldb://***@127.0.0.1:1/moodle", "ALX_DATABASE_URL")
    assert "secret" not in result.output and "alx" not in result.output


@pytest.mark.parametrize("password", ["Zq@Xw", "Zq@Xw#Yv/Uu", "Zq:Xw@", "@@Zq"])
def test_a_password_with_special_characters_never_shows_and_says_how_to_encode(password):
    result = invoke(f"mysql+mysqldb://moodle:{password}@127.0.0.1:1/moodle")
    assert_one_line_error(result, "mysql+mysqldb://***@127.0.0.1:1/moodle")
    assert [part for part in re.split(r"[@#/:]", password) if part and part in result.output] == []
    if "@" in password[:-1]:
        assert "percent-encode" in result.output and "%40" in result.output


def test_a_percent_encoded_password_reaches_the_server(mysql_server, new_database):
    """The encoding operations.md gives is the one the driver decodes: MariaDB accepts the password."""
    password = "p@ss#1/%:x"
    create = sa.text("CREATE USER IF NOT EXISTS 'alxenc'@'127.0.0.1' IDENTIFIED BY :pw")
    with new_database("mysql") as url, mysql_server.begin() as connection:
        server = sa.engine.make_url(url)
        connection.execute(create, {"pw": password})
        connection.execute(sa.text(f"GRANT ALL ON `{server.database}`.* TO 'alxenc'@'127.0.0.1'"))
        try:
            result = invoke(
                f"mysql+mysqldb://alxenc:{quote(password, safe='')}@127.0.0.1:{server.port}/{server.database}"
            )
        finally:
            connection.execute(sa.text("DROP USER 'alxenc'@'127.0.0.1'"))
    # Signed in: the database is empty, so the one-line error is about the missing Moodle site.
    assert_one_line_error(result, "no Moodle site with table prefix 'mdl_'")
    assert password not in result.output


def test_unreachable_postgres_server_names_the_url_and_the_setting():
    result = invoke("postgresql+psycopg://alx:secret@127.0.0.1:1/moodle")
    assert_one_line_error(result, "cannot connect to postgresql+psycopg://***@127.0.0.1:1/moodle", "ALX_DATABASE_URL")
    assert "secret" not in result.output and "alx" not in result.output


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("postgresql+pg8000://moodle@127.0.0.1/moodle", "write the URL as postgresql+psycopg://"),
        ("postgresql+psycopg2://moodle@127.0.0.1/moodle", "write the URL as postgresql+psycopg://"),
        ("postgres://moodle@127.0.0.1/moodle", "postgresql+psycopg:// (pip install '.[postgres]')"),
    ],
)
def test_a_postgres_url_for_another_driver_says_which_to_write(url, fragment):
    assert_one_line_error(invoke(url), fragment)


def test_a_missing_postgres_database_is_one_line(postgres_server):
    server = sa.engine.make_url(postgres_server.url).set(database="alx_no_such_database")
    result = invoke(server.render_as_string(hide_password=False))
    assert_one_line_error(result, "cannot connect to postgresql+psycopg://", 'database "alx_no_such_database"')


def test_a_missing_postgres_schema_is_named(new_database):
    with new_database("postgres") as url:
        result = invoke(f"{url}?options=-csearch_path%3Dmoodel")
    assert_one_line_error(result, "no schema of search_path 'moodel' exists", "?options=-csearch_path%3D")


def test_url_that_is_not_a_url():
    assert_one_line_error(invoke("not a url"), "is not a database URL", "mysql+mysqldb://")


def test_unknown_driver():
    assert_one_line_error(invoke("mysql+nosuchdriver://root@127.0.0.1/moodle"), "unknown database driver")


@pytest.fixture
def moodle_without_iomad(new_database, request):
    with new_database(request.param) as url:
        app = make_app(url)
        database = app.extensions["alx_database"]
        database.schema.metadata.create_all(database.engine, tables=list(database.schema.moodle_core))
        database.engine.dispose()
        yield url


@pytest.mark.parametrize("moodle_without_iomad", ALL_BACKENDS, indirect=True)
def test_wrong_prefix_names_the_prefix_that_exists(moodle_without_iomad):
    result = invoke(moodle_without_iomad, ALX_DB_PREFIX="mdl2_")
    assert_one_line_error(result, "no Moodle site with table prefix 'mdl2_'", "prefix 'mdl_': set ALX_DB_PREFIX")


@pytest.mark.parametrize("moodle_without_iomad", ALL_BACKENDS, indirect=True)
def test_moodle_without_iomad(moodle_without_iomad):
    result = invoke(moodle_without_iomad)
    assert_one_line_error(result, "without IOMAD (missing mdl_company, mdl_company_users, mdl_company_course)")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_empty_database_suggests_the_demo(new_database, backend):
    with new_database(backend) as url:
        assert_one_line_error(invoke(url), "no Moodle site with table prefix 'mdl_'", "alx demo")


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("ALX_MOODLE_WWWROOT", "moodle.example.com", "ALX_MOODLE_WWWROOT must be an http(s) address like https://"),
        ("ALX_MOODLE_WWWROOT", "https://moodle.example.com/?x=1", "must be an http(s) address"),
        ("ALX_MOODLE_UPSTREAM", "http://127.0.0.1:8080/moodle", "without a path (got 'http://127.0.0.1:8080/moodle')"),
        ("ALX_MOODLE_UPSTREAM", "http://127.0.0.1:port", "ALX_MOODLE_UPSTREAM must be an http(s) address"),
    ],
)
def test_moodle_addresses_are_checked_in_one_line(key, value, fragment):
    with pytest.raises(SystemExit) as refusal:
        config.from_environment({key: value})
    message = str(refusal.value)
    assert fragment in message and "\n" not in message


def test_moodle_addresses_lose_a_trailing_slash():
    settings = config.from_environment(
        {"ALX_MOODLE_WWWROOT": "https://moodle.example.com/moodle/", "ALX_MOODLE_UPSTREAM": "http://127.0.0.1:8080/"}
    )
    assert settings["ALX_MOODLE_WWWROOT"] == "https://moodle.example.com/moodle"
    assert settings["ALX_MOODLE_UPSTREAM"] == "http://127.0.0.1:8080"
