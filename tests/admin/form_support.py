"""What a browser would submit from a page's form, read from the page's HTML (without JavaScript)."""

from html.parser import HTMLParser

from .support import PREFIX


class _FormReader(HTMLParser):
    """Collects ``(name, value)`` pairs of one form in document order: checked boxes, selected options, texts."""

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.pairs, self.action = form_id, False, [], None
        self.select = self.textarea = None
        self.options = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            if self.inside:
                self.action = attrs.get("action")
        if not self.inside or "disabled" in attrs:
            return
        if tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind not in ("checkbox", "radio") or "checked" in attrs:
                self.pairs.append((attrs["name"], attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select, self.options = attrs.get("name"), []
        elif tag == "option" and self.select:
            self.options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea":
            self.textarea = [attrs.get("name"), ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            chosen = [value for value, selected in self.options if selected] or [self.options[0][0]]
            self.pairs.append((self.select, chosen[-1]))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.pairs.append(tuple(self.textarea))
            self.textarea = None


def read_form(html, form_id):
    """``(action, {name: [values…]})`` of the form ``form_id``, as the browser posts it (CSRF token included)."""
    reader = _FormReader(form_id)
    reader.feed(html)
    assert reader.action, f"no form with id {form_id!r} (and an action) on the page"
    data = {}
    for name, value in reader.pairs:
        data.setdefault(name, []).append(value)
    return reader.action, data


def submit(client, page, form_id, changes=None, drop=()):
    """GET ``page``, then POST its form ``form_id`` with ``changes`` applied and ``drop`` left out.

    ``changes`` maps names to a value or a list of values (a ticked checkbox is ``["0", "1"]``).
    """
    action, data = read_form(client.get(f"{PREFIX}{page}").get_data(as_text=True), form_id)
    for name, value in (changes or {}).items():
        data[name] = value if isinstance(value, list) else [value]
    for name in drop:
        data.pop(name, None)
    return client.post(action, data=data)
