"""The built book, as a reader's browser sees it, with no network beyond 127.0.0.1."""

from __future__ import annotations

import io
import itertools
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.request import Request, urlopen

import pytest
import yaml
from PIL import Image

from tests.book_toc import toc_files

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]


PAGES = toc_files(ROOT)
NOTEBOOK_PAGES = [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()]

# Everything a reader should never see as raw text outside code blocks.
UNRENDERED_MATH = re.compile(r"\$\$|\\\(|\\\[|\\begin\{")

MATH_REPORT = """() => {
  const maths = [...document.querySelectorAll('.math')];
  const unrendered = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60));
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, mjx-container, script, .highlight').forEach(e => e.remove());
  return {count: maths.length, rendered: document.querySelectorAll('mjx-container').length,
          unrendered: unrendered, text: copy.textContent};
}"""


@pytest.mark.parametrize("page_name", PAGES)
def test_page_renders_completely_offline(open_page, page_name):
    page, problems = open_page(f"{page_name}.html")
    math = page.evaluate(MATH_REPORT)
    assert not math["unrendered"], f"equations left unrendered: {math['unrendered'][:3]}"
    raw = UNRENDERED_MATH.search(math["text"])
    assert raw is None, f"raw maths in the text: ...{math['text'][max(0, raw.start() - 40):raw.end() + 40]}..."
    images = page.evaluate(
        "() => [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
    )
    broken = [src for src, ok in images if not ok]
    assert not broken, f"images that did not load: {broken}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    slug = page_name.replace("/", "_")
    page.screenshot(path=str(SCREENSHOTS / f"{slug}-desktop.png"), full_page=True)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page_name", PAGES)
def test_page_fits_a_phone(open_page, page_name):
    page, problems = open_page(f"{page_name}.html", width=390, height=844)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(SCREENSHOTS / f"{page_name.replace('/', '_')}-phone.png"), full_page=True)
    assert overflow <= 1, f"the page is {overflow}px wider than a 390px phone screen"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page_name", NOTEBOOK_PAGES)
def test_notebook_page_has_cells_outputs_and_colab_button(open_page, page_name):
    page, _ = open_page(f"{page_name}.html")
    assert page.locator(".cell").count() > 3, "no code cells on the page"
    assert page.locator(".cell_output").count() > 0, "no stored outputs on the page"
    owner_repo = urlparse(REPOSITORY["url"]).path.strip("/")
    expected = f"https://colab.research.google.com/github/{owner_repo}/blob/{REPOSITORY['branch']}/{page_name}.ipynb"
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
    assert expected in hrefs, f"no Colab launch link to {expected}"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _parse(url: str) -> _Links:
    """The links and ids of an HTML page; of any other file (the book's PDF), only that it is there."""
    html = urlparse(url).path.endswith(".html")
    with urlopen(Request(url, method="GET" if html else "HEAD"), timeout=10) as response:
        parser = _Links()
        if html:
            parser.feed(response.read().decode("utf-8", "replace"))
        return parser


def test_internal_links_and_anchors_resolve(site_url):
    start = [f"{site_url}/{p}.html" for p in PAGES]
    parsed: dict[str, _Links] = {}
    queue, broken = list(start), []
    links: list[tuple[str, str]] = []
    while queue:
        url = queue.pop()
        if url in parsed:
            continue
        try:
            parsed[url] = _parse(url)
        except OSError as err:
            broken.append(f"{url}: {err}")
            continue
        for href in parsed[url].hrefs:
            target = urljoin(url, href)
            if not target.startswith(site_url) or "/_sources/" in target or "/_static/" in target:
                continue
            page_url, _ = urldefrag(target)
            links.append((url, target))
            if page_url.endswith(".html") and page_url not in parsed:
                queue.append(page_url)
    for source, target in links:
        page_url, fragment = urldefrag(target)
        if page_url not in parsed:
            try:
                parsed[page_url] = _parse(page_url)
            except OSError as err:
                broken.append(f"{source} -> {target}: {err}")
                continue
        if fragment and fragment not in parsed[page_url].ids:
            broken.append(f"{source} -> {target}: no element with id {fragment!r}")
    assert len(parsed) >= len(PAGES)
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def test_search_finds_weight_decay(open_page):
    page, problems = open_page("search.html?q=weight+decay")
    page.wait_for_selector("ul.search li", timeout=20_000)
    assert page.locator("ul.search li").count() >= 3
    assert not problems, "\n".join(problems)


def _png_outputs(page_name: str) -> int:
    cells = json.loads((ROOT / f"{page_name}.ipynb").read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))


def _luminance(grey: float) -> float:
    """Relative luminance of an sRGB grey level (0-255), as WCAG defines it."""
    c = grey / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _contrast(a: float, b: float) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("page_name", NOTEBOOK_PAGES)
def test_figures_stay_legible_in_dark_mode(open_page, page_name):
    """Matplotlib draws black on white: on a transparent background, it would vanish into dark mode."""
    page, problems = open_page(f"{page_name}.html", dark=True)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark", "dark mode did not switch on"
    page_grey = page.evaluate(
        "() => getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    assert max(page_grey) < 64, f"the page is not dark in dark mode: background rgb{tuple(page_grey)}"
    figures = page.locator(".cell_output img")
    assert figures.count() == _png_outputs(page_name), "figures missing from the page"
    unreadable = []
    for index in range(figures.count()):
        grey = Image.open(io.BytesIO(figures.nth(index).screenshot())).convert("L")
        histogram = grey.histogram()
        background = max(range(256), key=histogram.__getitem__)  # the most common grey: the canvas
        darkest = itertools.accumulate(histogram)  # the darkest 1 % of pixels: lines and lettering
        ink = next(level for level, count in enumerate(darkest) if count >= 0.01 * sum(histogram))
        if background < 128 or _contrast(background, ink) < 4.5:
            unreadable.append(f"figure {index + 1}: canvas grey {background}, ink grey {ink}")
    figures.first.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{page_name.replace('/', '_')}-dark.png"))
    assert not unreadable, "figures that dark mode makes hard to read (light canvas, 4.5:1 contrast):\n" + (
        "\n".join(unreadable)
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_one_search_box_on_screen(open_page, width, height):
    """The sidebar's search field on a desktop, the header's search button on a phone: never both."""
    page, problems = open_page(f"{NOTEBOOK_PAGES[0]}.html", width=width, height=height)
    boxes = page.locator(".search-button-field, .search-button")
    visible = [
        boxes.nth(i).evaluate("e => (e.closest('header, nav, .bd-sidebar-primary, .bd-header-article') || e).className")
        for i in range(boxes.count()) if boxes.nth(i).is_visible()
    ]
    assert len(visible) == 1, f"{len(visible)} search boxes on a {width}px screen, in: {visible}"
    assert not problems, "\n".join(problems)
