"""``/webservice/rest/server.php``: Moodle's REST protocol, answered by the bridge.

The view is thin: it reads the call, forwards functions it does not implement to Moodle when an
upstream is configured, runs the rest through :mod:`.server`, and renders either the result or a
Moodle exception document. Every failure, including a lost database, is a Moodle envelope with
HTTP 200; nothing here ever shows a traceback.
"""
