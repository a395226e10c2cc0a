#!/usr/bin/env python3
r"""Check the built book the way a reader sees it: offline, in a real browser.

Serves ``_build/html`` on 127.0.0.1, loads every content page in headless Chromium and checks:

* math renders: a page with math nodes gets MathJax's ``mjx-container`` elements for all of
  them, no MathJax error (``mjx-merror``), and no raw ``$$``, ``$\\cmd`` or ``$`` glued to a
  formula left in its text;
* MathJax's fonts resolve: every ``@font-face`` URL MathJax writes points at a file of the build;
* no Python traceback ("Traceback (most recent call last)") on any page, except in a cell
  tagged ``raises-exception`` (an error shown on purpose);
* every ``<img src>``, ``<script src>`` and stylesheet of a page exists in the build, and the
  server answered no request of the browser with 404;
* every internal link resolves: its page exists and so does the element its ``#anchor`` names;
* each chapter page offers its notebook for download and its launch buttons (Colab, Binder)
  point at that same notebook;
* search works: ``search.html?q=entropy`` lists results once its scripts ran.

Standard library only (plus the Chromium binary). Exit status 0 when every check passes,
1 when one fails (with a report), 2 when the build or Chromium is missing.

Usage::

    python .ci/check_html.py [--build-dir _build/html] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

TRACEBACK = "Traceback (most recent call last)"
# Dollar signs that MyST did not turn into math: `$$`, `$\alpha`, or a `$` glued to a math
# node (Sphinx writes inline math as \(...\), display math as \[...\]).
RAW_MATH = re.compile(r"\$\$|\$\\[A-Za-z(\[]|\\[)\]]\$")
NO_TEXT_TAGS = {"pre", "code", "script", "style", "textarea", "kbd", "samp"}
VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}  # fmt: skip
# Pages Sphinx generates around the content: no chapter text on them.
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html", "index.html"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]


class PageParser(HTMLParser):
    """One pass over an HTML document, collecting what the checks need."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # stack entries: (tag, no_text, allowed_error, is_math)
        self.stack: list[tuple[str, bool, bool, bool]] = []
        self.text: list[str] = []  # prose outside code blocks
        self.error_text: list[str] = []  # all text outside cells tagged raises-exception
        self.style_text: list[str] = []
        self.math_nodes = 0  # Sphinx math nodes: class "math"
        self.math_rendered = 0  # math nodes holding an mjx-container
        self.mjx_containers = 0
        self.mjx_errors = 0
        self.resources: list[tuple[str, str]] = []  # (kind, url)
        self.links: list[str] = []  # <a href>
        self.ids: set[str] = set()  # every id="..." (link anchors)
        self._math_open: list[bool] = []  # per open math node: rendered yet?

    def _flags(self) -> tuple[bool, bool]:
        no_text = any(entry[1] for entry in self.stack)
        allowed = any(entry[2] for entry in self.stack)
        return no_text, allowed

    def handle_starttag(self, tag, attrs):
        """Record resources, math nodes and MathJax elements; open the element."""
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.resources.append(("img", attrs["src"]))
        elif tag == "script" and attrs.get("src"):
            self.resources.append(("script", attrs["src"]))
        elif tag == "link" and "stylesheet" in (attrs.get("rel") or "") and attrs.get("href"):
            self.resources.append(("stylesheet", attrs["href"]))
        if tag == "mjx-container":
            self.mjx_containers += 1
            if self._math_open and not self._math_open[-1]:
                self._math_open[-1] = True
        elif tag == "mjx-merror":
            self.mjx_errors += 1
        if tag in VOID_TAGS:
            return
        is_math = tag in ("span", "div") and "math" in classes
        if is_math:
            self.math_nodes += 1
            self._math_open.append(False)
        self.stack.append((tag, tag in NO_TEXT_TAGS, "tag_raises-exception" in classes, is_math))

    def handle_startendtag(self, tag, attrs):
        """A self-closed element (``<img/>``): open it and close it at once."""
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self.stack and self.stack[-1][0] == tag:
            self._pop()

    def _pop(self) -> None:
        _tag, _no_text, _allowed, is_math = self.stack.pop()
        if is_math:
            self.math_rendered += self._math_open.pop()

    def handle_endtag(self, tag):
        """Close the element, and any left open inside it."""
        if tag in VOID_TAGS or not any(entry[0] == tag for entry in self.stack):
            return  # stray end tag: ignore, as browsers do
        while self.stack:
            top = self.stack[-1][0]
            self._pop()
            if top == tag:
                break

    def handle_data(self, data):
        """Sort text into prose, traceback-checked text and stylesheets."""
        no_text, allowed = self._flags()
        if self.stack and self.stack[-1][0] == "style":
            self.style_text.append(data)
        if not allowed:
            self.error_text.append(data)
        if not no_text:
            self.text.append(data)


def parse(text: str) -> PageParser:
    """Parse an HTML document in one pass."""
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the build and remembers every request that was answered 404."""

    missing: list[str] = []
    lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 (the signature of the base class)
        """Keep the report readable: no access log."""

    def send_error(self, code, message=None, explain=None):
        """Answer the error, remembering what was missing."""
        if code == 404 and not self.path.endswith("favicon.ico"):
            with self.lock:
                self.missing.append(urllib.parse.unquote(self.path))
        super().send_error(code, message, explain)


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    """Serve ``root`` on a free port of 127.0.0.1 from a daemon thread."""
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def local_target(root: Path, page: Path, url: str) -> Path | None:
    """The file a page-relative URL points at, or None for an external or data URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return None
    if parts.scheme or parts.netloc:
        if parts.hostname != "127.0.0.1":
            return Path("<external>")
        return root / urllib.parse.unquote(parts.path).lstrip("/")
    path = urllib.parse.unquote(parts.path)
    if not path:
        return page
    return (root / path.lstrip("/")) if path.startswith("/") else (page.parent / path)


def render(chromium: str, url: str, timeout: float) -> str:
    """The DOM of ``url`` after its scripts ran, from headless Chromium with a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="check-html-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0 or "<html" not in result.stdout:
        raise RuntimeError(
            f"chromium exited with {result.returncode}: {result.stderr.strip()[-500:]}"
        )
    return result.stdout


def check_static(root: Path, page: Path, parsed: PageParser) -> list[str]:
    """Problems visible in the built file: missing resources, tracebacks."""
    problems = []
    for kind, url in parsed.resources:
        target = local_target(root, page, url)
        if target is None:
            continue
        if target == Path("<external>"):
            problems.append(f"{kind} from the network (no offline copy): {url}")
        elif not target.resolve().is_file():
            problems.append(f"{kind} missing on disk: {url}")
    if TRACEBACK in "".join(parsed.error_text):
        problems.append(f'Python traceback in the page ("{TRACEBACK}")')
    return problems


def check_links(root: Path, page: Path, parsed: PageParser, pages: dict) -> list[str]:
    """Internal links whose page or anchor does not exist."""
    problems = []
    for url in sorted(set(parsed.links)):
        target = local_target(root, page, url)
        if target is None or target == Path("<external>") or url.startswith("mailto:"):
            continue
        target = target.resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"broken link: {url}")
            continue
        anchor = urllib.parse.unquote(urllib.parse.urlsplit(url).fragment)
        if anchor and target.suffix == ".html":
            ids = pages[target].ids if target in pages else None
            if ids is None:
                ids = parse(target.read_text(encoding="utf-8", errors="replace")).ids
            if anchor not in ids:
                problems.append(f"link to a missing anchor: {url}")
    return problems


def check_chapter_buttons(root: Path, page: Path, parsed: PageParser) -> list[str]:
    """A chapter page built from a notebook offers it for download and launch."""
    source = root / "_sources" / page.relative_to(root).with_suffix(".ipynb")
    if not source.exists():
        return []  # a Markdown page
    notebook = page.relative_to(root).with_suffix(".ipynb").as_posix()  # e.g. book/03_x.ipynb
    problems = []
    if not any(link.endswith(f"_sources/{notebook}") for link in parsed.links):
        problems.append(f"no download link to _sources/{notebook}")
    for host in ("colab.research.google.com", "mybinder.org"):
        launch = [link for link in parsed.links if host in link]
        if not launch:
            problems.append(f"no launch button for {host}")
        elif not all(notebook in urllib.parse.unquote(link) for link in launch):
            problems.append(f"launch button for {host} does not open {notebook}: {launch[0]}")
    return problems


def check_search(chromium: str, port: int, timeout: float) -> list[str]:
    """Sphinx's client-side search returns results for a word every chapter uses."""
    url = f"http://127.0.0.1:{port}/search.html?q=entropy"
    try:
        dom = render(chromium, url, timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        return [f"search page could not render: {err}"]
    results = re.search(r'<ul class="search">(.*?)</ul>', dom, flags=re.S)
    if not results or "<li" not in results.group(1):
        return ["search for 'entropy' listed no results (searchindex.js or searchtools broken?)"]
    return []


def check_rendered(root: Path, page: Path, static: PageParser, dom: str) -> tuple[list[str], str]:
    """Problems of the page as the browser shows it, and a one-line summary of its math."""
    problems = []
    rendered = parse(dom)
    text = html.unescape("".join(rendered.text))
    summary = "no math"
    if static.math_nodes:
        summary = (
            f"math {rendered.math_rendered}/{static.math_nodes} rendered, "
            f"{rendered.mjx_containers} mjx-container"
        )
        if rendered.mjx_containers == 0:
            problems.append("math did not render: no mjx-container (is MathJax loaded?)")
        elif rendered.math_rendered < static.math_nodes:
            problems.append(
                f"{static.math_nodes - rendered.math_rendered} of {static.math_nodes} "
                "math nodes not rendered"
            )
        if rendered.mjx_errors:
            problems.append(f"{rendered.mjx_errors} MathJax errors (mjx-merror): bad TeX")
        fonts = re.findall(r"url\([\"']?([^\"')]+\.woff2?)", "".join(rendered.style_text))
        summary += f", {len(set(fonts))} MathJax fonts"
        for url in sorted(set(fonts)):
            target = local_target(root, page, url)
            if target is None or target == Path("<external>") or not target.is_file():
                problems.append(f"MathJax font not in the build: {url}")
    raw = [
        match.group(0) + " in " + repr(source[max(0, match.start() - 25) : match.end() + 25])
        for source in (html.unescape("".join(static.text)), text)
        for match in RAW_MATH.finditer(source)
    ]
    if raw:
        problems.append(f"{len(raw)} raw TeX delimiters left in the text: " + "; ".join(raw[:3]))
    return problems, summary


def content_pages(root: Path) -> list[Path]:
    """The pages of the book's text: every HTML file but Sphinx's own index pages."""
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if rel.parts[0].startswith("_") or rel.as_posix() in SKIP_PAGES:
            continue
        if rel.name.startswith("prf-"):  # sphinx-proof's index of proofs
            continue
        pages.append(path)
    return pages


def main() -> int:
    """Run every check and print the report; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="_build/html", type=Path)
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per page")
    parser.add_argument("--jobs", type=int, default=4, help="pages rendered at once")
    args = parser.parse_args()

    root = args.build_dir.resolve()
    if not (root / "index.html").is_file():
        print(f"check_html: no built book in {root}; build it first (make book).")
        return 2
    chromium = shutil.which(args.chromium) or (
        args.chromium if os.access(args.chromium, os.X_OK) else None
    )
    if chromium is None:
        print(
            f"check_html: Chromium not found at {args.chromium}.\n"
            "Install it (Debian/Ubuntu): sudo apt-get update && sudo apt-get install -y chromium\n"
            "or point --chromium (or $CHROMIUM) at a Chrome/Chromium binary."
        )
        return 2

    pages = content_pages(root)
    # Every HTML file gets the static checks (images, scripts, tracebacks) ...
    failures: dict[str, list[str]] = {}
    statics: dict[Path, PageParser] = {}
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("_static", "_sources"):
            continue
        parsed = parse(path.read_text(encoding="utf-8", errors="replace"))
        statics[path] = parsed
        problems = check_static(root, path, parsed)
        if rel.parts[0] == "_modules":  # highlighted library source: tracebacks may be code
            problems = [p for p in problems if "traceback" not in p]
        if problems:
            failures[rel.as_posix()] = problems
    for path, parsed in statics.items():
        problems = check_links(root, path, parsed, statics)
        if path in pages:
            problems += check_chapter_buttons(root, path, parsed)
        if problems:
            failures.setdefault(path.relative_to(root).as_posix(), []).extend(problems)

    # ... and every content page is rendered in the browser.
    server, port = serve(root)
    summaries: dict[str, str] = {}
    try:

        def one(path: Path) -> tuple[str, list[str], str]:
            rel = path.relative_to(root).as_posix()
            url = f"http://127.0.0.1:{port}/{urllib.parse.quote(rel)}"
            try:
                dom = render(chromium, url, args.timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                return rel, [f"could not render: {err}"], "not rendered"
            problems, summary = check_rendered(root, path, statics[path], dom)
            return rel, problems, summary

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for rel, problems, summary in pool.map(one, pages):
                summaries[rel] = summary
                if problems:
                    failures.setdefault(rel, []).extend(problems)
        search = check_search(chromium, port, args.timeout)
        if search:
            failures.setdefault("search.html", []).extend(search)
    finally:
        server.shutdown()
        server.server_close()
    if QuietHandler.missing:
        failures.setdefault("(browser requests)", []).extend(
            f"404 for {path}" for path in sorted(set(QuietHandler.missing))
        )

    for path in pages:
        rel = path.relative_to(root).as_posix()
        status = "FAIL" if rel in failures else "ok  "
        print(f"{status} {rel}: {summaries.get(rel, '')}")
    checked = len(statics)
    if failures:
        print(f"\ncheck_html: {len(failures)} of {checked} pages have problems:")
        for rel, problems in sorted(failures.items()):
            for problem in problems:
                print(f"  {rel}: {problem}")
        return 1
    print(
        f"\ncheck_html: {len(pages)} pages rendered in Chromium, {checked} HTML files checked: "
        "math renders offline, no tracebacks, every image, script, stylesheet and internal link "
        "resolves, chapters offer download and launch buttons, search finds results."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
