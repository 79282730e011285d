import pytest

from tests.book_toc import toc_files


def test_toc_files_reads_parts_chapters_and_sections(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: A\n    chapters:\n      - file: a\n"
        "        sections:\n          - file: a1\n      - file: b\n  - caption: B\n    chapters:\n      - file: c\n"
    )
    assert toc_files(tmp_path) == ["intro", "a", "a1", "b", "c"]


def test_toc_files_of_this_book_lists_every_chapter(root):
    files = toc_files(root)
    assert files[0] == "intro" and all(f"chapters/{p.stem}" in files for p in (root / "chapters").glob("*.ipynb"))


def test_toc_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        toc_files(tmp_path)
    (tmp_path / "_toc.yml").write_text("format: jb-book\n")
    with pytest.raises(ValueError, match="root"):
        toc_files(tmp_path)
