"""HTML → PDF in a child process with a time and memory bound.

`render_pdf()` runs ``python -m apps.core.render.pdf`` with the HTML on stdin and reads the
PDF from stdout; the child sets RLIMIT_AS, uses the deny-by-default fetcher and never embeds
attachments. A render that outlives `timeout` is killed and raises `PdfTimeout`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT = 60.0
DEFAULT_MEMORY = 1536 * 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class PdfError(RuntimeError):
    pass


class PdfTimeout(PdfError):
    pass


@dataclass
class PdfResult:
    pdf: bytes
    refused: list[str]
    pages: int


def render_pdf(
    html: str,
    *,
    static_root: str | os.PathLike,
    stylesheet: str | os.PathLike,
    timeout: float = DEFAULT_TIMEOUT,
    memory: int = DEFAULT_MEMORY,
) -> PdfResult:
    request = json.dumps(
        {"static_root": str(static_root), "stylesheet": str(stylesheet), "memory": memory}
    )
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "apps.core.render.pdf", request],
            input=html.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            cwd=PROJECT_ROOT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PdfTimeout(f"PDF rendering took longer than {timeout:g} s") from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise PdfError(f"PDF renderer failed ({done.returncode}): {tail[0][:300]}")
    meta_line, _, pdf = done.stdout.partition(b"\n")
    meta = json.loads(meta_line)
    return PdfResult(pdf=pdf, refused=meta["refused"], pages=meta["pages"])


def _child(argv: list[str]) -> int:
    import logging
    import resource

    options = json.loads(argv[0])
    memory = int(options["memory"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    logging.getLogger("weasyprint").setLevel(logging.ERROR)

    from weasyprint import CSS, HTML

    from apps.core.render.fetcher import DenyByDefaultFetcher

    html = sys.stdin.buffer.read().decode("utf-8")
    fetcher = DenyByDefaultFetcher(options["static_root"])
    base_url = Path(options["static_root"]).resolve().as_uri() + "/"
    css = CSS(filename=options["stylesheet"], url_fetcher=fetcher)
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(stylesheets=[css])
    pdf = document.write_pdf(attachments=[], pdf_forms=False)
    meta = {"refused": fetcher.refused, "pages": len(document.pages)}
    sys.stdout.buffer.write(json.dumps(meta).encode() + b"\n" + pdf)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
