"""The logpai/loghub header syntax: `<Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>`.

Exactly logparser's `generate_logformat_regex`, which the published loghub benchmark settings
are written for: each `<Name>` becomes a lazy named group, `<Content>` takes the rest of the
line, and the text between them is a regular expression in which a run of spaces means one or
more whitespace. So `\\[` and `\\(` are literal brackets, `( \\(<Address>\\))?` is an optional
part (its fields are empty when it is absent) and `\\|` a literal bar.

A header that does not compile, repeats a field, lacks `<Content>` or needs a feature the
linear-time engine (RE2) lacks raises ValueError with the reason; callers report it instead of
falling back to detection.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"<([^<>]+)>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# what Python's engine takes and RE2 refuses (RE2 would also log the failure to stderr)
_PYTHON_ONLY = re.compile(r"\(\?(?:[=!]|<[=!]|P=|\()|\\[1-9]")


def compile_log_format(log_format: str) -> tuple[re.Pattern[str], list[str]]:
    """Return (compiled regex, header field names) for a loghub log_format string."""
    import re2

    parts = _FIELD.split(log_format)
    pattern = ""
    names: list[str] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pattern += re.sub(" +", r"\\s+", part)
            continue
        if not _NAME.fullmatch(part):
            raise ValueError(f"<{part}> is not a field name (letters, digits and _)")
        if part in names:
            raise ValueError(f"field <{part}> appears twice in log format")
        names.append(part)
        pattern += f"(?P<{part}>.*?)" if part != "Content" else f"(?P<{part}>.*)"
    if "Content" not in names:
        raise ValueError("log format needs a <Content> field")
    try:
        compiled = re.compile("^" + pattern + "$", re.DOTALL)
    except re.error as exc:
        hint = " (write \\[ \\] \\( \\) \\| for literal brackets and bars)"
        raise ValueError(f"not a valid header: {exc}{hint}") from None
    lost = [n for n in names if n not in compiled.groupindex]
    if lost:  # `[<Level>]`: the field became part of a character class
        raise ValueError(f"<{lost[0]}> is inside [ ]: write \\[<{lost[0]}>\\] for brackets")
    if _PYTHON_ONLY.search(pattern):
        raise ValueError("header uses a lookaround or backreference, which is not supported")
    try:
        re2.compile(compiled.pattern)
    except Exception as exc:  # re2.error
        raise ValueError(f"header uses a regex feature that is not supported: {exc}") from None
    return compiled, names


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
            if value is None:  # inside an optional part that is absent
                continue
            if role is None:
                if value:
                    fields["attrs"][name] = value
            elif role == "level":
                fields["level"] = normalize_level(value)
                fields["attrs"]["level_raw"] = value
            else:
                fields[role] = value
        if ts_names:
            fields["ts"] = " ".join(d[n] for n in ts_names if d[n]) or None
        return fields

    return Format("loghub", parse, (), specificity=10, description=log_format)
