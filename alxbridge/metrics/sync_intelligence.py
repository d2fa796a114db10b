"""The Auto-Sync page's intelligence figures: how companies are set to sync, and how much data that saves.

* **Sync mode distribution**: how many companies use each sync mode — their ``sync_mode`` company
  setting, the plugin's default (auto) when they have none, and auto for a value the plugin does not
  know, as the web service reads it (:class:`~alxbridge.moodle.plugin_settings.CompanySettings`).
* **Data efficiency** over a window: the rows the API sent, against the rows it would have sent if
  every read had been a full answer. The audit log records each served page's ``record_count`` and,
  in ``additional_data``, the page's ``mode`` (``full``, ``incremental``, or ``live`` before a
  company's first sync) and ``offset``. A full or live page sent what a full answer sends, so it
  counts as itself; an incremental read (its ``offset=0`` page opens it) would have sent the
  company's whole answer instead, which the log does not hold: it counts as the company's active
  reporting rows now, an estimate (exact while the company's row count is unchanged).
  The company of a call is its caller's (:mod:`.limits`); a call whose caller has no company now
  counts its rows sent only.
"""

import json
from dataclasses import dataclass

import sqlalchemy as sa

from ..moodle.plugin_settings import SYNC_MODES, CompanySettings, overlay_wide_values
from .api_usage import failed, percent
from .reporting_data import company_data

FULL_MODES = ("full", "live")


@dataclass(frozen=True)
class ModeShare:
    mode: str  # auto | incremental | full | disabled
    companies: int
    share: float | None  # percent of all companies


def sync_mode_distribution(connection, tables, companies):
    """One :class:`ModeShare` per sync mode, in the plugin's order, over ``companies`` (``limits.all_companies``)."""
    settings, wide = tables.local_alx_api_settings, tables.local_alxbridge_company_setting
    rows = connection.execute(
        sa.select(settings.c.companyid, sa.literal(0), settings.c.setting_name, settings.c.setting_value)
        .where(settings.c.setting_name == "sync_mode")
        .union_all(
            sa.select(wide.c.companyid, sa.literal(1), wide.c.setting_name, wide.c.setting_value).where(
                wide.c.setting_name == "sync_mode"
            )
        )
    )
    stored = {}
    for companyid, is_wide, name, value in rows:
        stored.setdefault(companyid, []).append((is_wide, name, value))
    counts = dict.fromkeys(SYNC_MODES, 0)
    for company in companies:
        counts[CompanySettings(company.id, overlay_wide_values(stored.get(company.id, ()))).sync_mode] += 1
    return [ModeShare(SYNC_MODES[mode], count, percent(count, len(companies))) for mode, count in counts.items()]


@dataclass(frozen=True)
class DataEfficiency:
    rows_sent: int
    full_equivalent: int  # the rows full answers would have sent (see the module docstring)
    full_reads: int  # reads opened in full or live mode
    incremental_reads: int

    @property
    def reduction(self):
        """Percent fewer rows sent than full answers would have sent (``None`` without any)."""
        if not self.full_equivalent:
            return None
        return round(100 * (self.full_equivalent - self.rows_sent) / self.full_equivalent, 1)

    @property
    def incremental_share(self):
        return percent(self.incremental_reads, self.full_reads + self.incremental_reads)


def _served_page(data):
    """``(mode, offset)`` of a served page's ``additional_data``, else ``None``."""
    try:
        details = json.loads(data)
    except ValueError:
        return None
    if not isinstance(details, dict) or details.get("mode") not in (*FULL_MODES, "incremental"):
        return None
    return details["mode"], details.get("offset")


def data_efficiency(connection, tables, limits, since, until):
    """The :class:`DataEfficiency` of the successful calls in ``[since, until]``; ``limits`` is a
    :class:`~.limits.DailyLimits` (it resolves the callers' companies)."""
    logs = tables.local_alx_api_logs
    rows = connection.execute(
        sa.select(logs.c.userid, logs.c.record_count, logs.c.additional_data).where(
            logs.c.timeaccessed >= since, logs.c.timeaccessed <= until,
            sa.not_(failed(logs)),
            logs.c.additional_data.like('%"mode"%'),
        )
    )  # fmt: skip
    active = {company.companyid: company.active for company in company_data(connection, tables)}
    sent = full_equivalent = full_reads = incremental_reads = 0
    for userid, record_count, data in rows:
        page = _served_page(data)
        if page is None:
            continue
        mode, offset = page
        sent += record_count
        if mode in FULL_MODES:
            full_equivalent += record_count
            full_reads += offset == 0
        elif offset == 0:
            incremental_reads += 1
            company = limits.company_of(userid)
            full_equivalent += (active.get(company.id) or 0) if company is not None else 0
    return DataEfficiency(sent, full_equivalent, full_reads, incremental_reads)
