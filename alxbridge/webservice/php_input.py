"""Request parameters as PHP reads them into ``$_GET`` and ``$_POST``, then merged as Moodle merges them.

Rules (``moodle-rest-contract.md`` §1.4): ``a[0]=x&a[1]=y`` and ``b[]=z`` build arrays; a repeated
plain key keeps its last value; ``.`` and spaces in a top-level name become ``_``; leading spaces are
dropped; form values win over query values for the same key.
"""

import re
from urllib.parse import parse_qsl

SEGMENT = re.compile(r"\[([^\]]*)\]")
SETTINGS_KEYS = (
    "moodlewssettingraw",
    "moodlewssettingfileurl",
    "moodlewssettingfilter",
    "moodlewssettinglang",
    "moodlewssettingtimezone",
)


def split_name(name):
    """``a.b[x][]`` → (``a_b``, [``x``, ``""``]); ``None`` for a name PHP ignores."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    if bracket == 0:  # no name before the bracket: PHP drops the variable
        return None
    if bracket > 0 and "]" in name[bracket:]:
        base, rest = name[:bracket], name[bracket:]
        segments = []
        position = 0
        for match in SEGMENT.finditer(rest):
            if match.start() != position:
                break
            segments.append(match.group(1))
            position = match.end()
    else:
        base, segments = name, []
        base = base.replace("[", "_")
    base = base.replace(".", "_").replace(" ", "_")
    return (base, segments) if base else None


def _assign(target, segments, value):
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "":
            segment = str(max((int(k) for k in target if k.lstrip("-").isdigit()), default=-1) + 1)
        if last:
            target[segment] = value
            return
        child = target.get(segment)
        if not isinstance(child, dict):
            child = target[segment] = {}
        target = child


def php_parse(pairs):
    """Key/value pairs in request order → PHP's nested array (dicts keyed by strings)."""
    result = {}
    for name, value in pairs:
        split = split_name(name)
        if split is None:
            continue
        base, segments = split
        if not segments:
            result[base] = value
            continue
        if not isinstance(result.get(base), dict):
            result[base] = {}
        _assign(result[base], segments, value)
    return result


def parse_query(query_string):
    return php_parse(parse_qsl(query_string, keep_blank_values=True))


def merge(query, form):
    """``array_merge($_GET, $_POST)``: form values replace query values, query keys keep their place."""
    merged = dict(query)
    merged.update(form)
    return merged
