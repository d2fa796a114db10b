"""The security score and the issues behind it: the plugin's Control Center formula on real inputs.

score = 100 − 10 × callers who reached their daily limit today − 20 when the global rate limit is
off − 10 × token issues − 15 × access-control issues, at least 0 (cc:1546-1552). Its inputs:

* token issues: the bridge is not served over HTTPS (the plugin looked at Moodle's ``wwwroot``,
  which the bridge cannot read; the admin page's own scheme is what clients of this server use),
  and expired tokens of the plugin's service;
* access-control issues: web services disabled, the REST protocol not enabled
  (``webserviceprotocols``, read as the REST server reads it), the plugin's service missing or disabled.

The label follows the plugin's unified dashboard: Secure above 90, Good above 70, Fair above 50, else At risk.
"""

from dataclasses import dataclass

from ..moodle.webservice_setup import diagnose
from .api_usage import failed_auth_calls, quota_summary, user_usage_today
from .limits import DailyLimits
from .tokens import token_counts


@dataclass(frozen=True)
class SecurityStatus:
    score: int
    quota: object  # api_usage.QuotaSummary of today's callers
    rate_limiting_active: bool
    token_issues: tuple
    access_issues: tuple
    failed_auth_today: int

    @property
    def limit_reached(self):
        return self.quota.limit_reached

    @property
    def label(self):
        for floor, label in ((90, "Secure"), (70, "Good"), (50, "Fair")):
            if self.score > floor:
                return label
        return "At risk"

    @property
    def issues(self):
        return (*(() if self.rate_limiting_active else ("Rate limiting disabled",)), *self.token_issues,
                *self.access_issues)  # fmt: skip


ACCESS_CHECKS = {
    "enable_webservices": "Web services disabled",
    "enable_rest": "REST protocol disabled",
    "create_service": "Service not found",
    "enable_service": "Service disabled",
}


def access_issues(connection, tables, now):
    """The failed checks of the web service diagnosis that stop clients from reaching the API."""
    return tuple(
        ACCESS_CHECKS[check.key] for check in diagnose(connection, tables, now).issues if check.key in ACCESS_CHECKS
    )


def token_issues(connection, tables, now, https):
    issues = [] if https else ["HTTP (not HTTPS)"]
    expired = token_counts(connection, tables, now).expired
    if expired:
        issues.append(f"{expired} expired token(s)")
    return tuple(issues)


def security_status(connection, tables, settings, moment, https):
    """The :class:`SecurityStatus` at ``moment``; ``https``: whether the bridge is being reached over HTTPS."""
    users = user_usage_today(connection, tables, DailyLimits(connection, tables, settings), moment)
    quota = quota_summary(users)
    tokens = token_issues(connection, tables, moment.now, https)
    access = access_issues(connection, tables, moment.now)
    active = settings.rate_limit is not None
    score = 100 - 10 * quota.limit_reached - (0 if active else 20) - 10 * len(tokens) - 15 * len(access)
    return SecurityStatus(
        max(0, score), quota, active, tokens, access,
        failed_auth_calls(connection, tables, moment.midnight, moment.now),
    )  # fmt: skip


def overall_status(health_score, security):
    """The unified dashboard's system status: Poor, Good or Excellent (its thresholds, unified:929-931)."""
    if health_score < 70 or security.limit_reached > 3 or security.score < 70:
        return "Poor"
    if health_score < 90 or security.limit_reached > 0 or security.score < 90:
        return "Good"
    return "Excellent"
