"""The whole book as one PDF (`make pdf`): every page of the book in order, with its figures,
rendered maths, the glossary and the bibliography, on paper a printer takes."""

from __future__ import annotations

import filecmp
import json
import re
import unicodedata
from pathlib import Path

import pytest

from tests.book_toc import toc_files

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "_build" / "pdf" / "book.pdf"
SITE_COPY = ROOT / "_build" / "html" / "book.pdf"  # what the HTML book's download menu links to
PAGES = toc_files(ROOT)
CHAPTERS = [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()]

PAPER_SIZES = {"A4": (595.3, 841.9), "Letter": (612.0, 792.0)}  # in points
# The book printed on about 120 A4 pages with five chapters. Fewer than 8 pages a chapter means
# content went missing; more than 80, a layout gone wrong (a word a line, a page per figure).
MIN_PAGES, MAX_PAGES = 8 * len(CHAPTERS), 80 * len(CHAPTERS)
FOOTER = re.compile(r"^\d+ / \d+\s*$", re.MULTILINE)  # "12 / 123"
LABEL = re.compile(r"^\[[^\]\s]+\]\s*$", re.MULTILINE)  # a bibliography entry's "[KH91]"
MIN_FIGURE_PIXELS = 200  # a plot, not an icon
# What MathJax leaves in the text when it does not run: Sphinx's delimiters, $$, and TeX commands.
RAW_TEX = re.compile(r"\$\$|\\[()\[\]]|\\(?:frac|begin|end|mathbf|lambda|left|right|sum|[a-z]+\{)")


def _squeeze(text: str) -> str:
    """Text compared regardless of line breaks, spacing, case and ligatures (ﬁ is fi)."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _page_title(page: str) -> str:
    path = ROOT / f"{page}.ipynb"
    if path.exists():
        first = json.loads(path.read_text())["cells"][0]
        text = "".join(first["source"])
    else:
        text = (ROOT / f"{page}.md").read_text()
    return re.search(r"^# (.+)$", text, re.MULTILINE).group(1).replace("`", "").strip()


def _png_outputs(chapter: str) -> int:
    cells = json.loads((ROOT / f"{chapter}.ipynb").read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))


class Book:
    """The PDF read once: each page's prose (not code) and all its text, images, bookmarks, links."""

    def __init__(self, path: Path):
        from pypdf import PdfReader

        self.reader = PdfReader(path)
        self.prose: list[str] = []
        self.text: list[str] = []
        self.images: list[int] = []
        for page in self.reader.pages:
            prose: list[str] = []

            def visit(text, cm, tm, font, size, prose=prose):
                # Code and outputs are set in a monospace font; they may hold TeX on purpose.
                if "Mono" not in str((font or {}).get("/BaseFont", "")):
                    prose.append(text)

            # Without the footer's page number, text runs on from one page to the next.
            self.text.append(FOOTER.sub("", page.extract_text(visitor_text=visit)))
            self.prose.append(FOOTER.sub("", "".join(prose)))
            objects = page.get("/Resources", {}).get("/XObject", {})
            self.images.append(sum(
                1 for obj in (o.get_object() for o in objects.values())
                if obj.get("/Subtype") == "/Image" and min(obj["/Width"], obj["/Height"]) >= MIN_FIGURE_PIXELS
            ))
        self.bookmarks: list[tuple[str, int]] = []
        self._walk(self.reader.outline)

    def _walk(self, items) -> None:
        for item in items:
            if isinstance(item, list):
                self._walk(item)
            else:
                self.bookmarks.append((item.title, self.reader.get_destination_page_number(item)))

    def first_page(self, title: str) -> int:
        """The page of the bookmark titled ``title`` (a chapter's also carries its number)."""
        pages = [page for name, page in self.bookmarks if re.fullmatch(rf"(\d+\. )?{re.escape(title)}", name)]
        assert pages, f"no bookmark for {title!r} among {[name for name, _ in self.bookmarks][:40]}"
        return pages[0]


@pytest.fixture(scope="module")
def book() -> Book:
    if not PDF.exists():
        pytest.fail(f"{PDF} is missing: run `make pdf` (or `make book`, which builds it too)")
    return Book(PDF)


def test_paper_is_a4_or_letter_and_length_plausible(book):
    sizes = {(round(float(p.mediabox.width), 1), round(float(p.mediabox.height), 1)) for p in book.reader.pages}
    assert len(sizes) == 1, f"pages of several sizes: {sizes}"
    width, height = sizes.pop()
    assert any(abs(width - w) < 2 and abs(height - h) < 2 for w, h in PAPER_SIZES.values()), (
        f"pages of {width} x {height} pt are neither A4 nor Letter"
    )
    assert MIN_PAGES <= len(book.reader.pages) <= MAX_PAGES, (
        f"{len(book.reader.pages)} pages, outside the plausible {MIN_PAGES}-{MAX_PAGES}"
    )


def test_every_page_of_the_book_is_there_in_order(book):
    text = _squeeze(" ".join(book.text))
    missing = [_page_title(p) for p in PAGES if _squeeze(_page_title(p)) not in text]
    assert not missing, f"titles not found in the PDF's text: {missing}"
    starts = [book.first_page(_page_title(p)) for p in PAGES[1:]]
    assert starts == sorted(starts), f"the book's pages are out of order: {list(zip(PAGES[1:], starts, strict=True))}"


def test_maths_is_rendered_not_raw_tex(book):
    raw = [(number + 1, match.group(0), prose[max(0, match.start() - 40):match.end() + 40])
           for number, prose in enumerate(book.prose) for match in RAW_TEX.finditer(prose)]
    assert not raw, (
        f"raw TeX in the text of {len({page for page, _, _ in raw})} pages (did MathJax run?); "
        f"first: page {raw[0][0]}: {raw[0][1]!r} in ...{raw[0][2]!r}..."
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_of_a_chapter_is_embedded(book, chapter):
    index = PAGES.index(chapter)
    start = book.first_page(_page_title(chapter))
    end = book.first_page(_page_title(PAGES[index + 1])) if index + 1 < len(PAGES) else len(book.images)
    figures, expected = sum(book.images[start:end + 1]), _png_outputs(chapter)
    assert figures >= max(expected, 1), (
        f"{chapter}: {figures} images on pages {start + 1}-{end + 1}, its notebook has {expected} figures"
    )


def test_glossary_and_bibliography_are_complete(book):
    glossary_start = book.first_page(_page_title("glossary"))
    glossary = _squeeze(" ".join(book.text[glossary_start:]))
    block = re.search(r"```\{glossary\}\n(.*?)```", (ROOT / "glossary.md").read_text(), re.DOTALL).group(1)
    terms = [line for line in block.splitlines() if line.strip() and not line.startswith(" ")]
    assert terms and not [t for t in terms if _squeeze(t) not in glossary], "glossary terms missing from the PDF"

    # The entries' labels ("[KH91]") come out of each page first, in a column of their own.
    bibliography = _squeeze(LABEL.sub("", "\n".join(book.text[book.first_page(_page_title("references")):])))
    titles = re.findall(r"^\s*title\s*=\s*\{(.+)\},?\s*$", (ROOT / "references.bib").read_text(), re.MULTILINE)
    missing = [t for t in titles if _squeeze(re.sub(r"[{}\\]", "", t)) not in bibliography]
    assert titles and not missing, f"works of references.bib missing from the PDF's bibliography: {missing}"


def test_links_stay_inside_the_pdf_or_go_to_the_web(book):
    local = []
    for number, page in enumerate(book.reader.pages, 1):
        for annotation in page.get("/Annots", []) or []:
            action = annotation.get_object().get("/A")
            uri = str(action.get_object().get("/URI", "")) if action else ""
            if re.match(r"(https?://)?(127\.0\.0\.1|localhost)|file:", uri):
                local.append(f"page {number}: {uri}")
    assert not local, "links to the machine the PDF was printed on:\n" + "\n".join(local[:10])


def test_the_html_book_serves_this_pdf():
    same = SITE_COPY.exists() and filecmp.cmp(SITE_COPY, PDF, shallow=False)
    assert same, f"{SITE_COPY} (the download menu's link) is missing or not {PDF}: run `make pdf`"
