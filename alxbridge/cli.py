"""``flask --app wsgi alx …``: the operator's commands.

Every command turns a :class:`~alxbridge.errors.BridgeError` into a one-line ``Error: …`` and a
non-zero exit code, so a cron wrapper can trust the exit status and nobody reads a traceback.
"""

import functools

import click
from flask.cli import with_appcontext

from .errors import BridgeError
from .extensions import get_database
from .schema.repair import repair_tables


def operator_command(function):
    """Run ``function`` in the app context with bridge errors shown as one line."""

    @functools.wraps(function)
    @with_appcontext
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BridgeError as error:
            raise click.ClickException(str(error)) from None

    return wrapper


@click.group(help="ALX Bridge commands.")
def alx():
    pass


@alx.command("repair-tables")
@click.option("--check", is_flag=True, help="Only report; change nothing.")
@operator_command
def repair_tables_command(check):
    """Create the plugin's and the bridge's missing tables, columns and indexes; report differences."""
    database = get_database()
    with database.connect() as connection:
        database.require_moodle_site(connection)
        findings = repair_tables(connection, database.schema.owned, apply=not check)
    for finding in findings:
        click.echo(("fixed   " if finding.repaired else "differs ") + str(finding))
    left = [f for f in findings if not f.repaired]
    fixed = len(findings) - len(left)
    click.echo(
        f"{len(database.schema.owned)} tables checked: {fixed} change(s) made, "
        f"{len(left)} difference(s) left" + ("" if left else ", all tables match install.xml")
    )
    if left:
        raise SystemExit(1)
