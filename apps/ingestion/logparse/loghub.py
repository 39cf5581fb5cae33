"""The logpai/loghub header syntax: `<Date> <Time> <Level> <Component>: <Content>`.

Angle-bracket names become named groups; everything between them is literal text, except
runs of spaces (one or more whitespace) and the backslash escapes the loghub settings use
(`\\[`). `<Content>` takes the rest of the line. This mirrors logparser's
`generate_logformat_regex`, which is what the published benchmarks use.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


def compile_log_format(log_format: str) -> tuple[re.Pattern[str], list[str]]:
    """Return (compiled regex, header field names) for a loghub log_format string."""
    parts = _FIELD.split(log_format)
    pattern = ""
    names: list[str] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            literal = part.replace("\\", "")  # loghub escapes brackets as \[ ; treat literally
            chunks = re.split(r" +", literal)
            pattern += r"\s+".join(re.escape(c) for c in chunks)
        else:
            if part in names:
                raise ValueError(f"field <{part}> appears twice in log format")
            names.append(part)
            pattern += f"(?P<{part}>.*?)" if part != "Content" else f"(?P<{part}>.*)"
    if "Content" not in names:
        raise ValueError("log format needs a <Content> field")
    return re.compile("^" + pattern + "$", re.DOTALL), names


# -- the override as a catalogue Format -----------------------------------------------------
# Header fields by (lower-cased) name; anything not listed becomes an attribute.
_TS_FIELDS = frozenset(("date", "day", "time", "timestamp", "datetime", "month", "year"))
_FIELD_ROLES = {
    "content": "message",
    "level": "level",
    "severity": "level",
    "loglevel": "level",
    "component": "service",
    "service": "service",
    "pid": "pid",
    "host": "host",
    "hostname": "host",
}


def loghub_format(log_format: str):  # -> formats.spec.Format
    """A Format for an explicit loghub header. The regex runs on RE2: the user writes it, and
    its lazy groups would backtrack polynomially on long lines with Python's engine."""
    import re2

    from .formats.spec import Format
    from .levels import normalize_level

    compiled, names = compile_log_format(log_format)
    pattern = re2.compile(compiled.pattern)
    match = pattern.match
    ts_names = [n for n in names if n.lower() in _TS_FIELDS]
    roles = [(n, _FIELD_ROLES.get(n.lower())) for n in names if n.lower() not in _TS_FIELDS]

    def parse(text: str) -> dict | None:
        m = match(text)
        if m is None:
            return None
        d = m.groupdict()
        fields: dict = {"attrs": {}}
        for name, role in roles:
            value = d[name]
            if role is None:
                if value:
                    fields["attrs"][name] = value
            elif role == "level":
                fields["level"] = normalize_level(value)
                fields["attrs"]["level_raw"] = value
            else:
                fields[role] = value
        if ts_names:
            fields["ts"] = " ".join(d[n] for n in ts_names if d[n])
        return fields

    return Format("loghub", parse, (), specificity=10, description=log_format)
