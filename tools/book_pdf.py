"""Print the book's single-page HTML build to one PDF, offline, with Debian's chromium.

Usage: python tools/book_pdf.py [--site _build/singlehtml] [--out _build/pdf/book.pdf]
                                [--block TEXT ...]

`make pdf` runs it after `jupyter-book build . --builder singlehtml`. Jupyter Book's own
``pdfhtml`` builder does the same in spirit but cannot be used here: it launches Playwright's own
Chromium (a download that does not work offline, with no way to name another executable), prints
with no side margins, does not wait for MathJax, and writes its single page into ``_build/html``,
over the multi-page book's ``intro.html``.

The page is served on 127.0.0.1 and every other request is refused (a refused request fails the
run: the PDF must not depend on the network). Before printing, the script waits for MathJax (served
from the build by sphinx-mathjax-offline) to typeset every equation and for every image to load.

Collapsed blocks: dropdowns, exercise solutions and cells tagged ``hide-cell`` print expanded,
because they hold the book's evidence and answers, which a printed page cannot reveal on a click;
the code of cells tagged ``hide-input`` (plotting and bookkeeping code, the setup cell) is left out
and their output printed, as the web page shows them before a click. The print rules themselves
(A4 page, code wrapped rather than cut, a chapter per new page) are in ``_static/book.css``.

``--block TEXT`` also refuses requests whose URL contains TEXT, without failing the run: a way to
see what the PDF test says about a PDF printed without, say, MathJax (``--block mathjax``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER = "A4"
# Printers leave an unprintable band of 4-6 mm at each edge; these margins clear it with room to spare.
MARGINS = {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}
TEXT_WIDTH_PX = round((210 - 16 - 16) / 25.4 * 96)  # A4's width less the side margins, in CSS pixels
FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

# Runs in the page before printing: opens what prints expanded, drops what is left out (see above).
PREPARE_FOR_PRINT = """() => {
  document.querySelectorAll('.cell.tag_hide-input details.hide.above-input').forEach(d => d.remove());
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('.toggle-button').forEach(e => e.remove());
}"""

# The headings in reading order, as a reader reads them (an equation as its text, e.g. λ), each with
# its text without equations or spaces as a key: Chromium's bookmarks drop equations, run wrapped
# lines together and sometimes write pieces of a title twice ("1.7. 1.7. The Bayesian readingThe
# Bayesian reading"), so each bookmark is renamed after the heading it was made from.
HEADINGS = """() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]')].map(h => {
  const title = h.cloneNode(true), key = h.cloneNode(true);
  title.querySelectorAll('.headerlink').forEach(e => e.remove());
  title.querySelectorAll('mjx-container').forEach(m => {
    const mml = m.querySelector('mjx-assistive-mml');
    m.replaceWith(mml ? mml.textContent : '');
  });
  key.querySelectorAll('.headerlink, mjx-container').forEach(e => e.remove());
  return [key.textContent.replace(/\\s+/g, ''), title.textContent.replace(/\\s+/g, ' ').trim()];
})"""

# Code and outputs wider than the page would be cut off at its right edge; the print rules wrap them.
OVERFLOWING_CODE = """() => [...document.querySelectorAll('pre')]
  .filter(p => p.scrollWidth > p.clientWidth + 1)
  .map(p => p.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a)).slice(0, 100))"""

# Every equation typeset, every image decoded: printing before either would freeze a half-done page.
WAIT_FOR_CONTENT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  await document.fonts.ready;
  return {maths: document.querySelectorAll('.math').length,
          typeset: document.querySelectorAll('mjx-container').length,
          images: document.images.length,
          broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)};
}"""


def chromium_path() -> str | None:
    """Debian's chromium (or $CHROMIUM): Playwright's own browser download does not work offline."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def print_book(site: Path, out: Path, block: list[str]) -> dict:
    """Print ``site``'s root page to ``out``; returns what was waited for (counts of maths, images)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        sys.exit("chromium is not installed: `make browser-deps` installs Debian's package")
    root_page = next((name for name in ("intro.html", "index.html") if (site / name).exists()), None)
    if root_page is None:
        sys.exit(f"{site} has no single-page build: run `jupyter-book build . --builder singlehtml`")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    refused: list[str] = []

    def route(route):
        url = route.request.url
        if any(text in url for text in block):
            route.abort()
        elif url.startswith(base):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            context = browser.new_context(color_scheme="light", viewport={"width": 1000, "height": 1400})
            context.route("**/*", route)
            page = context.new_page()
            page.goto(base + root_page, wait_until="load")
            report = page.evaluate(WAIT_FOR_CONTENT)
            page.evaluate(PREPARE_FOR_PRINT)
            # Lay the page out as it prints (print rules, the paper's text width) to look for cut code.
            page.emulate_media(media="print")
            page.set_viewport_size({"width": TEXT_WIDTH_PX, "height": 1400})
            overflowing = page.evaluate(OVERFLOWING_CODE)
            headings = page.evaluate(HEADINGS)
            if refused:
                sys.exit("requests outside the build were refused (the PDF must not need the network):\n"
                         + "\n".join(sorted(set(refused))))
            if report["broken"] and not block:
                sys.exit(f"images that did not load: {report['broken']}")
            if overflowing:
                sys.exit("code wider than the page, cut off at its right edge:\n" + "\n".join(overflowing))
            out.parent.mkdir(parents=True, exist_ok=True)
            # A tagged PDF (headings, paragraphs, figures marked up) is what Chromium needs for bookmarks.
            page.pdf(path=str(out), format=PAPER, margin=MARGINS, print_background=True,
                     display_header_footer=True, header_template="<span></span>", footer_template=FOOTER,
                     outline=True, tagged=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    report["bookmarks"] = rename_bookmarks(out, headings)
    return report


def _made_from(bookmark_key: str, heading_key: str) -> bool:
    """Whether a bookmark's text (spaces removed) is the heading's, possibly with pieces repeated."""
    if bookmark_key == heading_key:
        return True
    if not len(heading_key) < len(bookmark_key) <= 2 * len(heading_key):
        return False
    rest = iter(bookmark_key)
    return all(char in rest for char in heading_key)


def rename_bookmarks(pdf: Path, headings: list[tuple[str, str]]) -> int:
    """Give each of the PDF's bookmarks the title of its heading; returns how many were renamed.

    Bookmarks and headings come in reading order: each bookmark is matched with the next heading
    it was made from, so that a bookmark never takes the title of a heading elsewhere in the book.
    """
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    # Chromium's cross-reference table counts a few objects short; pypdf says so, reads them all,
    # and writes a correct table: the warning is noise here.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    writer = PdfWriter(clone_from=pdf)
    outlines = writer.root_object.get("/Outlines")
    renamed = next_heading = 0
    # Depth first, a bookmark before its children and they before its next sibling: reading order.
    stack = [outlines.get_object().get("/First")] if outlines is not None else []
    while stack:
        ref = stack.pop()
        if ref is None:
            continue
        item = ref.get_object()
        stack += [item.get("/Next"), item.get("/First")]
        key = "".join(str(item.get("/Title", "")).split())
        match = next((i for i in range(next_heading, len(headings)) if _made_from(key, headings[i][0])), None)
        if match is None:
            continue
        next_heading = match + 1
        title = headings[match][1]
        if title and title != item.get("/Title"):
            item[NameObject("/Title")] = TextStringObject(title)
            renamed += 1
    writer.write(pdf)
    return renamed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "singlehtml")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    parser.add_argument("--block", action="append", default=[], metavar="TEXT",
                        help="also refuse requests whose URL contains TEXT (to test the PDF test)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = print_book(args.site, args.out, args.block)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, {report['images']} images, "
          f"{report['typeset']} of {report['maths']} equations typeset, {report['bookmarks']} bookmarks renamed, "
          f"printed in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
