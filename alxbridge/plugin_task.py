"""The PHP plugin's own hourly sync task in Moodle's ``task_scheduled``: the bridge must be the only one syncing.

``task_scheduled`` is a Moodle core table the bridge reads only here, so the two columns this check
needs are described here rather than in the schema; a database without the table has no such task.
"""

import sqlalchemy as sa

# Moodle stores the class name with its leading backslash; both spellings are matched.
PHP_SYNC_TASK = "\\local_alx_report_api\\task\\sync_reporting_data_task"


def php_sync_task_enabled(connection, tables):
    """True when Moodle would run the plugin's ``sync_reporting_data_task`` (present and ``disabled = 0``)."""
    name = tables.config.name[: -len("config")] + "task_scheduled"
    if not sa.inspect(connection).has_table(name):
        return False
    task = sa.table(name, sa.column("classname"), sa.column("disabled"))
    enabled = (
        sa.select(sa.func.count())
        .select_from(task)
        .where(task.c.classname.in_((PHP_SYNC_TASK, PHP_SYNC_TASK.lstrip("\\"))), task.c.disabled == 0)
    )
    return connection.execute(enabled).scalar() > 0
