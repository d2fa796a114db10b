"""The settings forms of the admin pages, without Flask: parse, validate, save in one transaction.

``company`` is the per-company form (``company_settings.php`` and the Control Center's Company
Management tab), ``plugin`` the global configuration (the Control Center's System Configuration
tab). A form with any invalid value saves nothing and says which field is wrong and what is allowed;
nothing is ever clamped silently (the plugin clamped or dropped values, findings 4 and 5).
"""
