"""The columns of a learnt header (header.py) and the rules that cut and name them.

A column is a token kind (linestart.py) that most of a sample's lines share at one position.
These rules decide where a header ends (a bare word, a measured value or a message key begins
the message) and what each column is (a level, a pid, a service, a logger, a host).
Only shapes and the level vocabulary (levels.py) are known in advance, never a program's names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .levels import normalize_level
from .linestart import Token

MAX_WORDS = 2
# Level letters: logcat's VDIWEFA, capnslog's N (notice), C (critical) and T (trace)
LEVEL_LETTERS = "VDIWEFANCT"
PADDED = 0.85  # a word column is padded to its width when this share of lines pad it
ANCHOR_REACH = 6  # columns after a word within which a time or a level makes it header
WORD_VALUES = 0.3  # a header word column (a host) has at most this share of distinct values
FIELD_KINDS = frozenset(("T", "L", "LL", "N", "B[", "B(", "B<", "B{", "C", "S", "SRC", "MARK"))
OPENERS = frozenset("[(<{")
CLOSERS = frozenset("])>}")


@dataclass(slots=True)
class Column:
    kind: str
    space: bool  # whitespace before it in most lines
    shape: str = ""  # T: the timestamp shape
    value: str = ""  # punctuation: the literal
    role: str = ""  # level / pid / service / host / attr / literal
    dotted: bool = False  # L: some values are `facility.severity` (`daemon.debug`)
    zone_names: bool = True  # T: some stamps end in a zone name (`UTC`, `CEST`)
    optional: bool = False  # some lines have it, others not (`[INFO] plugin/reload: msg`)


def kind_of(tok: Token) -> str:
    return tok.kind


# A logger name (`MyApp.Program`, `c.e.shop.Api`, `Foo::Bar`): a header word column even when
# its values are all different, which a few lines' hosts are not
LOGGER = re.compile(r"[A-Za-z_$][\w$\-]*(?:(?:\.|::)[\w$\-]+)+")


def logger_after_field(columns: list[Column], rows: list[list[Token]]) -> bool:
    """The last column is a word right after a field that is a field itself: a logger name
    (`org.apache.catalina.core.Foo.start`: Tomcat's and JUL's one-line formats end their
    header with it) or a column padded to its width (`Info    CBS    Loaded …`)."""
    i = len(columns) - 1
    if i < 1 or columns[i].kind != "W" or columns[i - 1].kind not in FIELD_KINDS | CLOSERS:
        return False
    values = [r[i].value for r in rows if len(r) > i and r[i].kind == "W"]
    if values and all(LOGGER.fullmatch(v) for v in values):
        return True
    padded = sum(1 for r in rows if len(r) > i + 1 and r[i].kind == "W" and r[i + 1].wide)
    return padded >= PADDED * len(rows)


_MESSAGE_KEYS = frozenset(("msg", "message"))


def message_key(columns: list[Column], rows: list[list[Token]]) -> None:
    """`level=ERROR ts=… module=log message=Internal Server Error: /`: a key=value header
    ends where its message key begins; the key is the header's last literal."""
    fields = False  # a time or a level seen: words after it are the message's
    for i, col in enumerate(columns):
        if (
            col.kind in ("W", "C")
            and fields
            and any(ch.isalnum() for r in rows if len(r) > i for ch in r[i].value)
        ):
            return  # key=value pairs after the message's words are its context (hclog)
        if col.kind in ("T", "L") or (
            col.kind == "K" and level_key([r[i].value for r in rows if len(r) > i])
        ):
            fields = True
        if col.kind != "K":
            continue
        keys = {r[i].value.partition("=")[0] for r in rows if len(r) > i}
        if len(keys) == 1 and (key := keys.pop()).lower() in _MESSAGE_KEYS:
            columns[i:] = [Column("LIT", col.space, value=key + "=")]
            return


FIELD_ENDS = frozenset(
    ("T", "L", "B[", "B(", "B<", "B{", "S", "SRC", "MARK", "LL", "]", ")", ">", "}")
)


def cut_prose(columns: list[Column], rows: list[list[Token]]) -> None:
    """`… LOG stats: 850 xacts/s, 850 queries/s, …`, `… [WRN] Health check update: 3 slow
    ops, …`: lines that all say the same sentence agree on its first words too, but a header
    field does not end in a comma. At a column whose words mostly do, the header ends after
    the last field before it (a time, a level, a bracket, a source location)."""
    for i, col in enumerate(columns):
        if col.kind != "," or not i or columns[i - 1].kind not in ("W", "N", "C"):
            continue
        j = i - 1
        while j >= 0 and columns[j].kind not in FIELD_ENDS:
            j -= 1
        del columns[j + 1 :]
        return


def cut_after_source(columns: list[Column], rows: list[list[Token]]) -> None:
    """A source location (`main.go:188`, `Server.java:246`, `file.go:12]`) is the header's last
    field; separators (`-`, `:`, `|`, `⋮`) and tags in brackets (`[n1]`) may follow it, then
    the message."""

    def separator(j: int) -> bool:
        kind = columns[j].kind
        if kind in ("-", ":", "|", "-:") or kind.startswith("B") or kind in CLOSERS:
            return True
        return kind == "W" and all(
            not any(ch.isalnum() for ch in r[j].value) for r in rows if len(r) > j
        )

    for i, col in enumerate(columns):
        if col.kind in ("SRC", "S"):
            end = i + 1
            while end < len(columns) and separator(end):
                end += 1
            del columns[end:]
            return


def cut_after_level_colon(columns: list[Column], rows: list[list[Token]]) -> None:
    """`LOG:  duration: 0.133 ms`, `DETAIL:  parameters: $1 = …`: a level closed by a colon,
    then a `name:` that ends what the lines share, is the message's key, not a component,
    even when every line repeats it. A logger name may follow (`WARNING: urllib3.pool: …`),
    and so may more header (bunyan's `INFO: app/12 on host: msg`)."""
    for i in range(len(columns) - 2):
        if (
            columns[i].kind == "L"
            and not columns[i].dotted
            and columns[i + 1].kind == ":"
            and not columns[i + 1].space
            and columns[i + 2].kind == "C"
            and len(columns) == i + 3
        ):
            values = [r[i + 2].value for r in rows if len(r) > i + 2]
            if not all(LOGGER.fullmatch(v) for v in values):
                del columns[i + 2 :]
            return


_HOSTLIKE = re.compile(r"[\d./]")  # a host or node name before a program tag


def cut_words(columns: list[Column], rows: list[list[Token]]) -> None:
    """Words are header (hosts, a `in` between fields) only in runs of at most MAX_WORDS that
    end on a field (`name:`, a bracket, a time, a level) or a separator, never on a number:
    past that, the message's own words. A word column of many values is message unless its
    values are all logger names. Inside a bracket the header opened (`[<time>: INFO/Worker-3]`)
    every word is a field: the message cannot begin before the bracket closes. So is a word
    that a time or a level column follows closely (`R02-M1-N0 RAS KERNEL INFO`,
    `node-246 unix.hw state_change <epoch>`): the lines agree on that column's position, so
    what comes before it is the header's."""
    run = 0
    depth = 0
    component = False  # a `name:` column seen: words and a colon after it are the message's
    anchor = -1  # the next time or level column: the words before it are header
    for i, col in enumerate(columns):
        if col.kind in OPENERS:
            depth += 1
        elif col.kind in CLOSERS and depth:
            depth -= 1
        if depth:
            run = 0
            continue
        if anchor < i:
            anchor = next(
                (j for j in range(i + 1, min(len(columns), i + 1 + ANCHOR_REACH))
                 if columns[j].kind == "T" or (columns[j].kind == "L" and not columns[j].dotted)),
                -1,
            )  # fmt: skip
        if col.kind in ("W", "N") and anchor > i:
            run = 0
            continue
        if col.kind == "W" and i + 1 < len(columns) and columns[i + 1].kind == "C":
            values = {r[i].value for r in rows if len(r) > i and r[i].kind == "W"}
            if all(_HOSTLIKE.search(v) for v in values):  # `dn228/dn228 crond[2916]:`
                run = 0
                continue
        if col.kind == "W":
            run += 1
            values = {r[i].value for r in rows if len(r) > i and r[i].kind == "W"}
            logger = run == 1 and all(LOGGER.fullmatch(v) for v in values)
            if run > MAX_WORDS or (len(values) > max(2, WORD_VALUES * len(rows)) and not logger):
                del columns[i - run + 1 :]
                return
            continue
        if run and col.kind in ("N", "LL", "MARK"):
            del columns[i - run :]
            return
        if col.kind == "C":
            if run and component:  # `comp.name: Task event: …`: a phrase after the component
                del columns[i - run :]
                return
            component = True
        run = 0


# A component names a program part: it repeats, or it looks like a name (a capital, a dot,
# an underscore, a digit, `name[pid]`, or left empty: Ruby's `-- : msg`). Lowercase words that
# all differ (`spawned:`, `exited:`) begin messages.
_IDENTIFIER = re.compile(r"$|[A-Z]|.*[._/$@\d\[-]")


def cut_plain_components(columns: list[Column], rows: list[list[Token]]) -> None:
    for i, col in enumerate(columns):
        if col.kind != "C":
            continue
        values = [r[i].value for r in rows if len(r) > i]
        if 2 * len(set(values)) <= len(values) or all(_IDENTIFIER.match(v) for v in values):
            continue
        del columns[i:]
        return


_DECIMAL = re.compile(r"\d+\.\d+")


def cut_measures(columns: list[Column], rows: list[list[Token]]) -> None:
    """A header numbers things (pids, thread and line numbers); it does not measure them. A
    bare decimal column (`3.110` of `duration: 3.110 ms`) is the message's, and so is the
    `name:` just before it, which is the value's key, not a component."""
    for i, col in enumerate(columns):
        if i == 0 or col.kind != "N":
            continue
        values = [r[i].value for r in rows if len(r) > i]
        if 2 * sum(1 for v in values if _DECIMAL.fullmatch(v)) <= len(values):
            continue  # (a dotted date or version, `2005.06.03`, is no measure)
        del columns[i - 1 if columns[i - 1].kind == "C" else i :]
        return


def cut_unbalanced(columns: list[Column], rows: list[list[Token]] | None = None) -> None:
    """Drop trailing columns that leave a bracket open (`[ts` without its `]`)."""
    depth = 0
    last_ok = 0
    for i, col in enumerate(columns):
        if col.kind in OPENERS:
            depth += 1
        elif col.kind in ("]", ")", ">", "}") and depth:
            depth -= 1
        if depth == 0:
            last_ok = i + 1
    del columns[last_ok:]
    while columns and (
        (columns[-1].kind in ("W", "K") and not (rows and logger_after_field(columns, rows)))
        or columns[-1].kind in OPENERS
    ):
        columns.pop()


_LEVEL_KEYS = frozenset(("level", "lvl", "severity", "loglevel", "levelname"))


def level_key(values: list[str]) -> bool:
    """`level=ERROR` on every line: a keyed level column."""
    keys = {v.partition("=")[0] for v in values}
    return (
        len(keys) == 1
        and keys.pop().lower() in _LEVEL_KEYS
        and all(normalize_level(v.partition("=")[2].strip('"')) for v in values)
    )


def bracket_levels(values: list[str]) -> bool:
    """A bracket whose values are levels, alone or after a thread (`Server thread/INFO`)."""
    return bool(values) and all(
        normalize_level(v.rpartition("/")[2].strip()) is not None for v in values
    )


def assign_roles(columns: list[Column], rows: list[list[Token]]) -> None:
    """What each column is, from its values: letters that are all levels are a level, ..."""
    have_level = any(c.kind == "L" for c in columns) or any(
        c.kind == "T" and c.shape.startswith("klog") for c in columns
    )
    # the level column: a level word of its own beats a syslog `facility.severity`
    words = [i for i, c in enumerate(columns) if c.kind == "L"]
    plain = [i for i in words if not any("." in r[i].value for r in rows)]
    level_at = (plain or words or [-1])[0]
    have_pid = have_service = False
    for i, col in enumerate(columns):
        values = [r[i].value for r in rows]
        if col.kind == "L":
            col.role = "level" if i == level_at else "attr"
        elif col.kind == "LL":
            letters = [r[i].value for r in rows if r[i].kind == "LL"]
            levels = sum(1 for v in letters if v.upper() in LEVEL_LETTERS)
            col.role = "level" if not have_level and levels >= 0.9 * len(letters) else "attr"
            have_level = have_level or col.role == "level"
        elif col.kind == "MARK":
            col.role = "level" if not have_level else "literal"
            have_level = True
        elif col.kind == "N" or (col.kind.startswith("B") and all(v.isdigit() for v in values)):
            col.role = "id" if have_pid else "pid"
            have_pid = True
        elif col.kind == "C":
            # a logger (`dfs.DataNode`, `c.e.Api`) names a part of the program, not a service
            logger = all(LOGGER.fullmatch(v) for v in values)
            col.role = "attr" if have_service or logger else "service"
            have_service = have_service or not logger
        elif col.kind == "W":
            col.role = "attr" if all(LOGGER.fullmatch(v) for v in values) else "host"
        elif col.kind == "K" and not have_level and level_key(values):
            col.role, col.value = "level", values[0].partition("=")[0]
            have_level = True
        elif col.kind.startswith("B") and not have_level and bracket_levels(values):
            col.role = "level"  # `[Server thread/INFO]`, `[I]`
            have_level = True
        elif col.kind in ("S", "SRC", "K") or col.kind.startswith("B"):
            col.role = "attr"
        elif col.kind != "T":
            col.role = "literal"
