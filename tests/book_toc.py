"""Facts about the book itself, read from its configuration (used by the tests)."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["toc_files"]


def toc_files(root: str | Path) -> list[str]:
    """Every file named in ``root/_toc.yml`` (root page first), without extensions, in reading order.

    Understands ``chapters`` and ``parts`` with nested ``sections``.

    Raises:
        FileNotFoundError: if ``_toc.yml`` is missing. ValueError: if it has no ``root``.
    """
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{Path(root) / '_toc.yml'} has no 'root' entry")
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            files.append(entry["file"])
            walk(entry.get("sections", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files
