"""local_alx_report_api_get_course_progress: read sessions, pages, quota and the audit log."""
