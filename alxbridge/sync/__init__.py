"""The single writer of the reporting table, and the progress computation it shares with the web service.

Modules, one concern each: :mod:`.progress` (the progress query), :mod:`.scope` (which courses a
company exposes), :mod:`.changes` (what a run must recompute), :mod:`.writer` (staging and
set-based writes for one company), :mod:`.state` (committed versions per company),
:mod:`.status` (the plugin's own sync records), :mod:`.runs` (one run over all companies),
:mod:`.affected` (the courses and users a job's runs changed, read from the rows they stamped).
No Flask here: the scheduler, the CLI and the web service call these functions directly.
"""

from .progress import compute_company_progress, progress_query
from .runs import run_sync
from .scope import exposed_course_ids
from .state import CompanyState, read_company_state

__all__ = [
    "CompanyState",
    "compute_company_progress",
    "exposed_course_ids",
    "progress_query",
    "read_company_state",
    "run_sync",
]
