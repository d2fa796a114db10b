"""The PHP plugin's own scheduled tasks in Moodle's ``task_scheduled``: the bridge must be the only one running them.

The plugin schedules an hourly sync (``sync_reporting_data_task``) and a 15-minute alert check
(``check_alerts_task``); left enabled beside the bridge, two writers fight over the reporting table
and every alert is raised twice. ``task_scheduled`` is a Moodle core table the bridge reads only
here, so the two columns this check needs are described here rather than in the schema; a database
without the table has no such task.
"""

import sqlalchemy as sa

# Moodle stores class names with their leading backslash; both spellings are matched.
PHP_TASKS = (
    "\\local_alx_report_api\\task\\sync_reporting_data_task",
    "\\local_alx_report_api\\task\\check_alerts_task",
)


def enabled_php_tasks(connection, tables):
    """The plugin's tasks Moodle would run (present and ``disabled = 0``), with their leading backslash."""
    name = tables.config.name[: -len("config")] + "task_scheduled"
    if not sa.inspect(connection).has_table(name):
        return []
    task = sa.table(name, sa.column("classname"), sa.column("disabled"))
    spellings = {spelling: canonical for canonical in PHP_TASKS for spelling in (canonical, canonical.lstrip("\\"))}
    enabled = connection.execute(
        sa.select(task.c.classname).where(task.c.classname.in_(spellings), task.c.disabled == 0)
    ).scalars()
    return sorted({spellings[classname] for classname in enabled})
