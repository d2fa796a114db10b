"""``alx repair-tables``: the plugin's six tables, created and checked against its ``install.xml``.

``INSTALL_XML`` below is transcribed by hand from the plugin's ``db/install.xml`` (1.5.0), independently
of ``alxbridge/schema/plugin.py``, and mapped to MySQL with Moodle's rules. On MariaDB the live
``information_schema`` must match it exactly: column order, types, lengths, nullability, defaults,
collation, unique keys and index names (Moodle's generated names, what Moodle itself creates from
the logical names in the XML). On PostgreSQL likewise with ``postgres_sql_generator.php``'s rules:
its types, ``BIGSERIAL`` ids with their ``{table}_id_seq`` sequences, the ``_id_pk`` constraint, and
index names cut to Moodle's 30 characters.
"""

import pytest
import sqlalchemy as sa

from .conftest import make_app

# field: (name, XMLDB type, length, decimals, notnull, default)
# index: (logical XMLDB name, fields, unique, name Moodle gives it on a site with prefix mdl_)
INSTALL_XML = {
    "local_alx_api_logs": {
        "fields": [
            ("userid", "int", 10, None, True, None),
            ("company_shortname", "char", 100, None, False, None),
            ("endpoint", "char", 255, None, True, None),
            ("record_count", "int", 10, None, True, "0"),
            ("error_message", "text", None, None, False, None),
            ("response_time_ms", "number", 10, 2, False, None),
            ("timeaccessed", "int", 10, None, True, None),
            ("ip_address", "char", 45, None, False, None),
            ("user_agent", "text", None, None, False, None),
            ("additional_data", "text", None, None, False, None),
        ],
        "indexes": [
            ("userid", ["userid"], False, "mdl_locaalxapilogs_use_ix"),
            ("company_shortname", ["company_shortname"], False, "mdl_locaalxapilogs_com_ix"),
            ("endpoint", ["endpoint"], False, "mdl_locaalxapilogs_end_ix"),
            ("timeaccessed", ["timeaccessed"], False, "mdl_locaalxapilogs_tim_ix"),
            ("response_time_ms", ["response_time_ms"], False, "mdl_locaalxapilogs_res_ix"),
        ],
    },
    "local_alx_api_settings": {
        "fields": [
            ("companyid", "int", 10, None, True, None),
            ("setting_name", "char", 100, None, True, None),
            ("setting_value", "int", 1, None, True, "0"),
            ("timecreated", "int", 10, None, True, None),
            ("timemodified", "int", 10, None, True, None),
        ],
        "indexes": [
            ("unique_company_setting", ["companyid", "setting_name"], True, "mdl_locaalxapisett_comset_uix"),
            ("companyid", ["companyid"], False, "mdl_locaalxapisett_com_ix"),
            ("setting_name", ["setting_name"], False, "mdl_locaalxapisett_set_ix"),
        ],
    },
    "local_alx_api_reporting": {
        "fields": [
            ("userid", "int", 10, None, True, None),
            ("companyid", "int", 10, None, True, None),
            ("courseid", "int", 10, None, True, None),
            ("firstname", "char", 100, None, True, None),
            ("lastname", "char", 100, None, True, None),
            ("email", "char", 100, None, True, None),
            ("coursename", "char", 255, None, True, None),
            ("timecompleted", "int", 10, None, True, "0"),
            ("timestarted", "int", 10, None, True, "0"),
            ("percentage", "number", 5, 2, True, "0"),
            ("status", "char", 20, None, True, "not_started"),
            ("last_updated", "int", 10, None, True, None),
            ("is_deleted", "int", 1, None, True, "0"),
            ("created_at", "int", 10, None, True, None),
            ("updated_at", "int", 10, None, True, None),
        ],
        "indexes": [
            ("unique_user_course", ["userid", "courseid", "companyid"], True, "mdl_locaalxapirepo_usecoucom_uix"),
            ("companyid", ["companyid"], False, "mdl_locaalxapirepo_com_ix"),
            ("last_updated", ["last_updated"], False, "mdl_locaalxapirepo_las_ix"),
            ("userid_courseid", ["userid", "courseid"], False, "mdl_locaalxapirepo_usecou_ix"),
            ("timecompleted", ["timecompleted"], False, "mdl_locaalxapirepo_tim_ix"),
            ("status", ["status"], False, "mdl_locaalxapirepo_sta_ix"),
            ("is_deleted", ["is_deleted"], False, "mdl_locaalxapirepo_is__ix"),
        ],
    },
    "local_alx_api_sync_status": {
        "fields": [
            ("companyid", "int", 10, None, True, None),
            ("token_hash", "char", 64, None, True, None),
            ("last_sync_timestamp", "int", 10, None, True, "0"),
            ("sync_mode", "char", 20, None, True, "auto"),
            ("sync_window_hours", "int", 3, None, True, "24"),
            ("last_sync_records", "int", 10, None, True, "0"),
            ("last_sync_status", "char", 20, None, True, "success"),
            ("last_sync_error", "text", None, None, False, None),
            ("total_syncs", "int", 10, None, True, "0"),
            ("created_at", "int", 10, None, True, None),
            ("updated_at", "int", 10, None, True, None),
        ],
        "indexes": [
            ("unique_company_token", ["companyid", "token_hash"], True, "mdl_locaalxapisyncstat_comtok_uix"),
            ("companyid", ["companyid"], False, "mdl_locaalxapisyncstat_com_ix"),
            ("token_hash", ["token_hash"], False, "mdl_locaalxapisyncstat_tok_ix"),
            ("last_sync_timestamp", ["last_sync_timestamp"], False, "mdl_locaalxapisyncstat_las_ix"),
            ("sync_mode", ["sync_mode"], False, "mdl_locaalxapisyncstat_syn_ix"),
        ],
    },
    "local_alx_api_cache": {
        "fields": [
            ("cache_key", "char", 255, None, True, None),
            ("companyid", "int", 10, None, True, None),
            ("cache_data", "text", None, None, True, None),
            ("cache_timestamp", "int", 10, None, True, None),
            ("expires_at", "int", 10, None, True, None),
            ("hit_count", "int", 10, None, True, "0"),
            ("last_accessed", "int", 10, None, True, None),
        ],
        "indexes": [
            ("unique_cache_key", ["cache_key", "companyid"], True, "mdl_locaalxapicach_caccom_uix"),
            ("cache_key", ["cache_key"], False, "mdl_locaalxapicach_cac_ix"),
            ("companyid", ["companyid"], False, "mdl_locaalxapicach_com_ix"),
            ("expires_at", ["expires_at"], False, "mdl_locaalxapicach_exp_ix"),
            ("cache_timestamp", ["cache_timestamp"], False, "mdl_locaalxapicach_cac2_ix"),
        ],
    },
    "local_alx_api_alerts": {
        "fields": [
            ("alert_type", "char", 50, None, True, None),
            ("severity", "char", 20, None, True, None),
            ("message", "text", None, None, True, None),
            ("alert_data", "text", None, None, False, None),
            ("hostname", "char", 255, None, False, None),
            ("timecreated", "int", 10, None, True, None),
            ("resolved", "int", 1, None, True, "0"),
        ],
        "indexes": [
            ("alert_type", ["alert_type"], False, "mdl_locaalxapialer_ale_ix"),
            ("severity", ["severity"], False, "mdl_locaalxapialer_sev_ix"),
            ("timecreated", ["timecreated"], False, "mdl_locaalxapialer_tim_ix"),
            ("resolved", ["resolved"], False, "mdl_locaalxapialer_res_ix"),
        ],
    },
}


# The two names that Moodle's 30-character limit cuts on PostgreSQL (every other name is under it).
POSTGRES_INDEX_NAMES = {
    "mdl_locaalxapirepo_usecoucom_uix": "mdl_locaalxapirepo_usecouc_uix",
    "mdl_locaalxapisyncstat_comtok_uix": "mdl_locaalxapisyncstat_com_uix",
}

# The primary key constraint postgres_sql_generator names from the table and field ``id``.
POSTGRES_PRIMARY_KEYS = {
    "local_alx_api_logs": "mdl_locaalxapilogs_id_pk",
    "local_alx_api_settings": "mdl_locaalxapisett_id_pk",
    "local_alx_api_reporting": "mdl_locaalxapirepo_id_pk",
    "local_alx_api_sync_status": "mdl_locaalxapisyncstat_id_pk",
    "local_alx_api_cache": "mdl_locaalxapicach_id_pk",
    "local_alx_api_alerts": "mdl_locaalxapialer_id_pk",
}


def mysql_column_type(xmldb_type, length, decimals):
    """Moodle's XMLDB → MySQL type mapping (lib/ddl/mysql_sql_generator.php)."""
    if xmldb_type == "int":
        for limit, name in ((9, "bigint"), (6, "int"), (4, "mediumint"), (2, "smallint")):
            if length > limit:
                return f"{name}({length})"
        return f"tinyint({length})"
    if xmldb_type == "char":
        return f"varchar({length})"
    if xmldb_type == "number":
        return f"decimal({length},{decimals})"
    return "longtext"


def mariadb_default(xmldb_type, notnull, default, decimals):
    """``information_schema.COLUMNS.COLUMN_DEFAULT`` as MariaDB 10.2+ reports it."""
    if default is None:
        if xmldb_type == "char" and notnull:
            return "''"  # Moodle gives NOT NULL chars DEFAULT ''
        return None if notnull else "NULL"
    if xmldb_type == "char":
        return f"'{default}'"
    if xmldb_type == "number":
        return f"{default}.{'0' * decimals}"
    return default


def expected_columns(spec):
    rows = [("id", "bigint(10)", "NO", None, "auto_increment", None)]
    for name, xtype, length, decimals, notnull, default in spec["fields"]:
        collation = "utf8mb4_unicode_ci" if xtype in ("char", "text") else None
        rows.append(
            (
                name,
                mysql_column_type(xtype, length, decimals),
                "NO" if notnull else "YES",
                mariadb_default(xtype, notnull, default, decimals),
                "",
                collation,
            )
        )
    return rows


def expected_indexes(spec, dialect="mysql"):
    indexes = {("PRIMARY", ("id",), True)}
    indexes |= {(physical, tuple(fields), unique) for _, fields, unique, physical in spec["indexes"]}
    if dialect == "postgresql":
        indexes = {(POSTGRES_INDEX_NAMES.get(name, name), fields, unique) for name, fields, unique in indexes}
    return indexes


def postgres_column_type(xmldb_type, length, decimals):
    """Moodle's XMLDB → PostgreSQL type mapping (lib/ddl/postgres_sql_generator.php), as PostgreSQL names it."""
    if xmldb_type == "int":
        return "bigint" if length > 9 else "integer" if length > 4 else "smallint"
    if xmldb_type == "char":
        return f"character varying({length})"
    if xmldb_type == "number":
        return f"numeric({length},{decimals})"
    return "text"


def postgres_default(xmldb_type, notnull, default):
    """``information_schema.columns.column_default`` as PostgreSQL reports Moodle's defaults."""
    if default is None:
        return "''::character varying" if xmldb_type == "char" and notnull else None
    return f"'{default}'::character varying" if xmldb_type == "char" else default


def expected_postgres_columns(table, spec):
    rows = [("id", "bigint", "NO", f"nextval('mdl_{table}_id_seq'::regclass)")]
    for name, xtype, length, decimals, notnull, default in spec["fields"]:
        rows.append(
            (
                name,
                postgres_column_type(xtype, length, decimals),
                "NO" if notnull else "YES",
                postgres_default(xtype, notnull, default),
            )
        )
    return rows


def live_postgres_columns(connection, table):
    rows = connection.execute(
        sa.text(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
            "is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t ORDER BY ordinal_position"
        ),
        {"t": table},
    )
    columns = []
    for name, data_type, char_length, precision, scale, nullable, default in rows:
        if data_type == "character varying":
            data_type = f"{data_type}({char_length})"
        elif data_type == "numeric":
            data_type = f"numeric({precision},{scale})"
        columns.append((name, data_type, nullable, default))
    return columns


def live_postgres_indexes(connection, table):
    """Every index of ``table`` with its columns; the primary key's as ``PRIMARY``, as on MariaDB."""
    rows = connection.execute(
        sa.text(
            "SELECT i.relname, ix.indisunique, ix.indisprimary, a.attname "
            "FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid "
            "JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, position) ON true "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE t.relname = :t ORDER BY i.relname, k.position"
        ),
        {"t": table},
    )
    grouped = {}
    for name, unique, primary, column in rows:
        grouped.setdefault(("PRIMARY" if primary else name, unique), []).append(column)
    return {(name, tuple(columns), unique) for (name, unique), columns in grouped.items()}


def live_columns(connection, table):
    return [
        tuple(row)
        for row in connection.execute(
            sa.text(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLLATION_NAME "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
                "ORDER BY ORDINAL_POSITION"
            ),
            {"t": table},
        )
    ]


def live_indexes(connection, table):
    rows = connection.execute(
        sa.text(
            "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t ORDER BY INDEX_NAME, SEQ_IN_INDEX"
        ),
        {"t": table},
    )
    grouped = {}
    for name, non_unique, column in rows:
        grouped.setdefault((name, not non_unique), []).append(column)
    return {(name, tuple(columns), unique) for (name, unique), columns in grouped.items()}


def create_moodle_site(database):
    """An empty Moodle + IOMAD site: the core tables exist, the plugin's do not."""
    schema = database.schema
    schema.metadata.create_all(database.engine, tables=[*schema.moodle_core, *schema.iomad])


def run(app, *args):
    return app.test_cli_runner().invoke(args=["alx", *args])


def repaired_site(url):
    app = make_app(url)
    database = app.extensions["alx_database"]
    create_moodle_site(database)
    return app, database, run(app, "repair-tables")


@pytest.fixture(scope="module")
def site(database_url):
    app, database, first_run = repaired_site(database_url)
    yield app, database, first_run
    database.engine.dispose()


@pytest.fixture(scope="module")
def mariadb_site(mysql_url):
    """A second site on MariaDB only, for checks against information_schema."""
    app, database, first_run = repaired_site(mysql_url)
    yield app, database, first_run
    database.engine.dispose()


def test_first_run_creates_the_six_plugin_tables(site):
    _, database, first_run = site
    assert first_run.exit_code == 0, first_run.output
    for name in INSTALL_XML:
        assert f"mdl_{name}: added table" in first_run.output
    owned = len(database.schema.owned)
    assert f"{owned} tables checked: {owned} change(s) made, 0 difference(s) left" in first_run.output
    present = set(sa.inspect(database.engine).get_table_names())
    assert {f"mdl_{name}" for name in INSTALL_XML} <= present


@pytest.mark.parametrize("table", sorted(INSTALL_XML))
def test_table_matches_install_xml_exactly_on_mariadb(mariadb_site, table):
    _, database, _ = mariadb_site
    with database.connect() as connection:
        assert live_columns(connection, f"mdl_{table}") == expected_columns(INSTALL_XML[table])
        assert live_indexes(connection, f"mdl_{table}") == expected_indexes(INSTALL_XML[table])
        engine, collation = connection.execute(
            sa.text(
                "SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
            ),
            {"t": f"mdl_{table}"},
        ).one()
    assert (engine, collation) == ("InnoDB", "utf8mb4_unicode_ci")


@pytest.fixture(scope="module")
def postgres_site(postgres_url):
    """A second site on PostgreSQL only, for checks against its catalogue."""
    app, database, first_run = repaired_site(postgres_url)
    yield app, database, first_run
    database.engine.dispose()


@pytest.mark.parametrize("table", sorted(INSTALL_XML))
def test_table_matches_install_xml_exactly_on_postgres(postgres_site, table):
    _, database, _ = postgres_site
    name = f"mdl_{table}"
    with database.connect() as connection:
        assert live_postgres_columns(connection, name) == expected_postgres_columns(table, INSTALL_XML[table])
        assert live_postgres_indexes(connection, name) == expected_indexes(INSTALL_XML[table], "postgresql")
        primary_key = connection.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"),
            {"t": name},
        ).scalar()
        sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}).scalar()
    assert primary_key == POSTGRES_PRIMARY_KEYS[table]
    assert sequence == f"public.{name}_id_seq"


def test_declared_schema_matches_install_xml(site):
    """The declarations themselves, on any backend: names, nullability, defaults, index columns."""
    _, database, _ = site
    for name, spec in INSTALL_XML.items():
        table = getattr(database.tables, name)
        assert [c.name for c in table.columns] == ["id"] + [f[0] for f in spec["fields"]]
        for field_name, _, _, _, notnull, _ in spec["fields"]:
            assert table.c[field_name].nullable is (not notnull), (name, field_name)
        declared = {(i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes}
        assert declared == expected_indexes(spec, database.engine.dialect.name) - {("PRIMARY", ("id",), True)}


def test_second_run_changes_nothing(site):
    app, database, _ = site
    before = sa.inspect(database.engine).get_indexes("mdl_local_alx_api_logs")
    second = run(app, "repair-tables")
    assert second.exit_code == 0, second.output
    assert "added" not in second.output
    owned = len(database.schema.owned)
    assert f"{owned} tables checked: 0 change(s) made, 0 difference(s) left, all tables match install.xml" in (
        second.output
    )
    assert sa.inspect(database.engine).get_indexes("mdl_local_alx_api_logs") == before


def test_missing_index_is_reported_and_recreated_without_losing_rows(site):
    app, database, _ = site
    reporting = database.tables.local_alx_api_reporting
    row = dict(
        userid=10, companyid=1, courseid=101, firstname="Zoë", lastname="Ångström", email="u10@example.org",
        coursename="Safety", timecompleted=0, timestarted=0, percentage=50, status="in_progress",
        last_updated=1, is_deleted=0, created_at=1, updated_at=1,
    )  # fmt: skip
    with database.begin() as connection:
        connection.execute(reporting.insert(), row)
        status_index = next(i for i in reporting.indexes if i.name == "mdl_locaalxapirepo_sta_ix")
        connection.execute(sa.schema.DropIndex(status_index))
    check = run(app, "repair-tables", "--check")
    assert check.exit_code == 1
    assert "mdl_local_alx_api_reporting: missing index mdl_locaalxapirepo_sta_ix (status) (check only)" in check.output
    repaired = run(app, "repair-tables")
    assert repaired.exit_code == 0, repaired.output
    assert "mdl_local_alx_api_reporting: added index mdl_locaalxapirepo_sta_ix (status)" in repaired.output
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(database.engine).get_indexes(reporting.name)}
    assert indexes["mdl_locaalxapirepo_sta_ix"] == ["status"]
    with database.connect() as connection:
        assert connection.execute(sa.select(reporting.c.firstname)).scalars().all() == ["Zoë"]


def test_missing_column_is_added_with_its_default(site):
    app, database, _ = site
    cache = database.tables.local_alx_api_cache
    with database.begin() as connection:
        connection.execute(
            cache.insert(),
            dict(cache_key="k", companyid=1, cache_data="[]", cache_timestamp=1, expires_at=2, last_accessed=1),
        )
        connection.execute(sa.text("ALTER TABLE mdl_local_alx_api_cache DROP COLUMN hit_count"))
    result = run(app, "repair-tables")
    assert "mdl_local_alx_api_cache: added column hit_count" in result.output, result.output
    with database.connect() as connection:
        assert connection.execute(sa.select(cache.c.cache_key, cache.c.hit_count)).all() == [("k", 0)]


def test_wrong_column_type_is_reported_not_changed(mariadb_site):
    app, database, _ = mariadb_site
    with database.begin() as connection:
        connection.execute(
            sa.text("ALTER TABLE mdl_local_alx_api_settings MODIFY setting_value SMALLINT(3) NOT NULL DEFAULT 0")
        )
    result = run(app, "repair-tables")
    assert result.exit_code == 1
    assert "mdl_local_alx_api_settings: column setting_value is smallint, expected tinyint; left unchanged" in (
        result.output
    )
    assert "ALTER TABLE mdl_local_alx_api_settings MODIFY COLUMN setting_value TINYINT(1)" in result.output
    with database.connect() as connection:
        assert live_columns(connection, "mdl_local_alx_api_settings")[3][1] == "smallint(3)"
        connection.execute(
            sa.text("ALTER TABLE mdl_local_alx_api_settings MODIFY setting_value TINYINT(1) NOT NULL DEFAULT 0")
        )
    assert run(app, "repair-tables").exit_code == 0


def test_wrong_column_type_is_reported_with_the_postgres_statement(postgres_site):
    app, database, _ = postgres_site
    with database.begin() as connection:
        connection.execute(sa.text("ALTER TABLE mdl_local_alx_api_settings ALTER COLUMN setting_value TYPE INTEGER"))
    result = run(app, "repair-tables")
    assert result.exit_code == 1
    assert "mdl_local_alx_api_settings: column setting_value is int, expected smallint; left unchanged" in (
        result.output
    )
    fix = (
        "ALTER TABLE mdl_local_alx_api_settings ALTER COLUMN setting_value TYPE SMALLINT, "
        "ALTER COLUMN setting_value SET NOT NULL, ALTER COLUMN setting_value SET DEFAULT 0"
    )
    assert fix in result.output
    with database.begin() as connection:
        connection.execute(sa.text(fix))
    assert run(app, "repair-tables").exit_code == 0


# What Moodle's installer runs on PostgreSQL for the plugin's settings table, on a site where earlier plugins
# already took the first names (the counter Moodle then adds); repair-tables matches indexes by their columns.
MOODLE_CREATED_SETTINGS = (
    """CREATE TABLE mdl_local_alx_api_settings (
    id BIGSERIAL,
    companyid BIGINT NOT NULL,
    setting_name VARCHAR(100) NOT NULL DEFAULT '',
    setting_value SMALLINT NOT NULL DEFAULT 0,
    timecreated BIGINT NOT NULL,
    timemodified BIGINT NOT NULL,
CONSTRAINT mdl_locaalxapisett_id_pk PRIMARY KEY (id)
)""",
    "COMMENT ON TABLE mdl_local_alx_api_settings IS 'Company-specific API settings'",
    "CREATE UNIQUE INDEX mdl_locaalxapisett_comset2_uix ON mdl_local_alx_api_settings (companyid, setting_name)",
    "CREATE INDEX mdl_locaalxapisett_com2_ix ON mdl_local_alx_api_settings (companyid)",
    "CREATE INDEX mdl_locaalxapisett_set2_ix ON mdl_local_alx_api_settings (setting_name)",
)


def test_a_table_moodle_created_on_postgres_is_accepted(new_database):
    with new_database("postgres") as url:
        app = make_app(url)
        database = app.extensions["alx_database"]
        create_moodle_site(database)
        with database.begin() as connection:
            for statement in MOODLE_CREATED_SETTINGS:
                connection.execute(sa.text(statement))
        result = run(app, "repair-tables")
        database.engine.dispose()
    assert result.exit_code == 0, result.output
    assert "mdl_local_alx_api_settings:" not in result.output
    assert "mdl_local_alx_api_logs: added table" in result.output
