"""Every number the admin pages show, each defined once, computed from real rows.

The plugin had several formulas for the same label (four "active tokens", five "rate-limit
violations", three "success rates"); each module here keeps one, named after what it measures,
and says in its docstring which plugin variant it follows and why. No Flask: the pages, the
JSON endpoints and the tests all call these functions with a connection and a :class:`Moment`.
"""
