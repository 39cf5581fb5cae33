"""Error-group fingerprints, Sentry-style: exception type + normalized top in-app frames + template.

A record's message may hold a joined stack trace (Java `at …` / `Caused by:`, Python
`Traceback`, Go `panic:` + goroutine frames, Node `at fn (file:line:col)`). Its fingerprint is the
exception type (the root cause for chained Java exceptions, the last raised for Python), the top
`MAX_FRAMES` in-app frames with line numbers, lambda/anonymous ids and generated class suffixes
stripped, and the template id of the message's head line. A plain message falls back to its
template id. `Fingerprint` keeps what was used so the UI can show *why these were grouped*.

Callers mine `head_line(message)` (not the whole trace) to get the template id: frames vary in
depth, the head line is the error message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .masks import WILDCARD, mask_message

MAX_FRAMES = 3


@dataclass(frozen=True, slots=True)
class Frame:
    module: str  # class, file or package, normalized
    function: str  # normalized
    in_app: bool

    def __str__(self) -> str:
        return f"{self.module}.{self.function}" if self.function else self.module


@dataclass(frozen=True, slots=True)
class StackTrace:
    language: str  # java | python | go | node
    exception_type: str
    frames: list[Frame] = field(default_factory=list)  # innermost (where it was raised) first


@dataclass(frozen=True, slots=True)
class Fingerprint:
    group_id: str  # short stable hash
    exception_type: str | None
    frames_used: list[str]
    template_id: str | None
    language: str | None = None


def head_line(message: str) -> str:
    """The line to mine for a record: the first non-blank line of the message."""
    if "\n" not in message:  # most records: no list of one line to build
        return message if message.strip() else ""
    for line in message.split("\n"):
        if line.strip():
            return line
    return ""


# ---------------------------------------------------------------- normalization

_JAVA_GENERATED = [
    (re.compile(r"\$\$(?:EnhancerBy|FastClassBy)\w*?CGLIB\$\$\w+"), ""),  # Spring/CGLIB proxies
    (re.compile(r"\$\$Lambda(?:\$\d+)?(?:/0x[0-9a-f]+)?(?:/\d+)?"), "$$Lambda"),
    (re.compile(r"\$HibernateProxy\$\w+"), ""),
    (re.compile(r"\$ByteBuddy\$\w+"), ""),
    (re.compile(r"\bGeneratedMethodAccessor\d+"), "GeneratedMethodAccessor"),
    (re.compile(r"\$Proxy\d+"), "$Proxy"),
    (re.compile(r"lambda\$(\w+?)\$\d+"), r"lambda$\1"),
    (re.compile(r"\$\d+"), "$"),  # anonymous inner classes Foo$1
]
_JAVA_FRAMEWORK = (
    "java.",
    "javax.",
    "jakarta.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "org.springframework.",
    "org.apache.catalina.",
    "org.apache.coyote.",
    "org.apache.tomcat.",
    "org.eclipse.jetty.",
    "io.netty.",
    "io.undertow.",
    "reactor.",
    "org.hibernate.",
    "com.zaxxer.hikari.",
    "org.junit.",
    "net.bytebuddy.",
    "GeneratedMethodAccessor",
)


def _java_name(name: str) -> str:
    for rx, repl in _JAVA_GENERATED:
        name = rx.sub(repl, name)
    return name


_PY_LIBRARY = ("site-packages", "dist-packages", "/lib/python", "\\lib\\python", "<frozen")
_GO_FRAMEWORK = ("runtime.", "runtime/", "net/http.", "testing.", "reflect.", "sync.", "syscall.")
_NODE_LIBRARY = ("node_modules", "node:", "internal/", "<anonymous>")


def _short_path(path: str, keep: int = 2) -> str:
    """Last `keep` path components, extension dropped: deploy prefixes differ, modules don't."""
    parts = [p for p in re.split(r"[\\/]", path) if p]
    tail = "/".join(parts[-keep:])
    return re.sub(r"\.(?:py|js|mjs|cjs|ts|go|java|kt)$", "", tail)


# ---------------------------------------------------------------- parsers per language

_JAVA_AT = re.compile(
    r"^\s*at\s+(?:[\w.\-]+(?:@[\w.\-]+)?/)*([\w$.<>\[\]/]+)\.([\w$<>\[\]]+)\((.*)\)\s*$"
)
_JAVA_EXC = re.compile(
    r"^(?:Caused by:\s*|Exception in thread \"[^\"]*\"\s*|Suppressed:\s*)?"
    r"((?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable|Failure|Fault)\w*)(?::|\s*$)"
)


def _parse_java(lines: list[str]) -> StackTrace | None:
    if not any(_JAVA_AT.match(line) for line in lines):
        return None
    blocks: list[tuple[str, list[Frame]]] = []
    for line in lines:
        stripped = line.strip()
        if m := _JAVA_EXC.match(stripped):
            if stripped.startswith("Suppressed:"):
                continue
            blocks.append((m.group(1), []))
        elif (m := _JAVA_AT.match(line)) and blocks:
            module, function = _java_name(m.group(1)), _java_name(m.group(2))
            in_app = not module.startswith(_JAVA_FRAMEWORK)
            blocks[-1][1].append(Frame(module, function, in_app))
    if not blocks:
        return None
    # the root cause explains the failure; if it has no in-app frames, the outer ones do
    exc_type, frames = blocks[-1]
    if not any(f.in_app for f in frames):
        frames = next((fr for _, fr in reversed(blocks) if any(f.in_app for f in fr)), frames)
    return StackTrace("java", exc_type, frames)


_PY_FILE = re.compile(r'^\s*File "([^"]+)", line \d+(?:, in (.+))?\s*$')
_PY_EXC = re.compile(r"^([A-Za-z_][\w.]*)(?::\s|:$|$)")


def _parse_python(lines: list[str]) -> StackTrace | None:
    starts = [
        i
        for i, line in enumerate(lines)
        if line.strip().startswith("Traceback (most recent call last)")
    ]
    if not starts:
        return None
    block = lines[starts[-1] + 1 :]  # the last traceback is what was finally raised
    frames: list[Frame] = []
    exc_type = ""
    for line in block:
        if m := _PY_FILE.match(line):
            path, function = m.group(1), (m.group(2) or "").strip()
            function = re.sub(r"<lambda>|<genexpr>|<listcomp>|<dictcomp>", "<lambda>", function)
            frames.append(
                Frame(_short_path(path), function, not any(s in path for s in _PY_LIBRARY))
            )
        elif line and not line[0].isspace() and (m := _PY_EXC.match(line)):
            exc_type = m.group(1)
            break
    if not exc_type:
        return None
    frames.reverse()  # most recent call last → innermost first
    return StackTrace("python", exc_type, frames)


_GO_PANIC = re.compile(r"^(?:panic|fatal error): (.*)$")
_GO_FUNC = re.compile(r"^((?:[\w.\-]+/)*[\w.\-]+\.(?:\(\*?[\w]+\)\.)?[\w.]+)\((?:[^()]*)\)$")
_GO_FILE = re.compile(r"^\s+(\S+\.go):\d+")


def _parse_go(lines: list[str]) -> StackTrace | None:
    panic = next((m.group(1) for line in lines if (m := _GO_PANIC.match(line.strip()))), None)
    if panic is None or not any(line.startswith("goroutine ") for line in lines):
        return None
    # a panic has no type: use its masked message up to the first variable
    kind = mask_message(re.sub(r"\[recovered\]", "", panic)).split(WILDCARD)[0]
    kind = re.split(r"[\[(]", kind)[0].strip(" :") or "panic"
    frames: list[Frame] = []
    in_goroutine = False
    for i, line in enumerate(lines):
        if line.startswith("goroutine "):
            if in_goroutine:
                break  # only the panicking goroutine
            in_goroutine = True
            continue
        if in_goroutine and (m := _GO_FUNC.match(line.strip())):
            function = re.sub(r"\.func\d+(?:\.\d+)*", ".func", m.group(1))
            file = lines[i + 1] if i + 1 < len(lines) else ""
            fm = _GO_FILE.match(file)
            in_app = not function.startswith(_GO_FRAMEWORK) and not (
                fm and "/go/src/runtime/" in fm.group(1)
            )
            if function.startswith("panic("):
                in_app = False
            frames.append(Frame(function.rsplit(".", 1)[0], function.rsplit(".", 1)[-1], in_app))
    return StackTrace("go", f"panic: {kind}", frames)


_NODE_AT = re.compile(
    r"^\s*at\s+(?:async\s+)?(?:(.+?)\s+(?:\[as [^\]]+\]\s+)?\()?([^()]+?):\d+:\d+\)?\s*$"
)
_NODE_EXC = re.compile(r"^(?:Uncaught\s+)?([A-Z][\w$]*(?:Error|Exception)|Error)(?::|\s*$)")


def _parse_node(lines: list[str]) -> StackTrace | None:
    frames: list[Frame] = []
    exc_type = ""
    for line in lines:
        stripped = line.strip()
        if not frames and not exc_type and (m := _NODE_EXC.match(stripped)):
            exc_type = m.group(1)
        elif m := _NODE_AT.match(line):
            function, path = (m.group(1) or "<anonymous>"), m.group(2)
            function = re.sub(r"^(?:Object|Module)\.", "", function)
            in_app = not any(s in path for s in _NODE_LIBRARY) and not path.startswith("node:")
            frames.append(Frame(_short_path(path), function, in_app))
    if not frames or not exc_type:
        return None
    return StackTrace("node", exc_type, frames)


def parse_stack(message: str) -> StackTrace | None:
    """The stack trace joined in a message, if any (Java, Python, Go, Node)."""
    if "\n" not in message:
        return None
    lines = message.split("\n")
    for parse in (_parse_python, _parse_go, _parse_java, _parse_node):
        trace = parse(lines)
        if trace is not None:
            return trace
    return None


# ---------------------------------------------------------------- fingerprint


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


@lru_cache(maxsize=65536)
def _plain_fingerprint(template_id: str) -> Fingerprint:
    """Messages without a stack trace group by template: one digest per template, cached."""
    return Fingerprint(_digest("message", template_id), None, [], template_id)


def fingerprint(
    message: str, template_id: str | None = None, *, max_frames: int = MAX_FRAMES
) -> Fingerprint:
    """Group key for a record: stack trace when there is one, else the template id.

    `template_id` should be the miner's id for `head_line(message)`.
    """
    trace = parse_stack(message)
    if trace is None:
        if template_id is not None:
            return _plain_fingerprint(template_id)
        return Fingerprint(_digest("message", mask_message(head_line(message))), None, [], None)
    in_app = [f for f in trace.frames if f.in_app]
    used = [str(f) for f in (in_app or trace.frames)[:max_frames]]
    group_id = _digest(trace.language, trace.exception_type, *used, "|", template_id or "")
    return Fingerprint(group_id, trace.exception_type, used, template_id, trace.language)
