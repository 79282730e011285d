"""Re-run chapter notebooks top to bottom in place, so that their stored outputs are a real run.

Usage: python tools/execute_notebooks.py chapters/02_weight_decay_scratch.ipynb [...]

Each notebook runs in a fresh kernel started in its own folder (as nbval does), with progress
bars off. Afterwards the notebook is normalised: no timing or widget metadata, a standard
kernelspec, and the time taken is printed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) outputs into one, as a reader sees them: one block.

    The kernel sends each flush of a print as its own message; stored as they came, a loop that
    prints a line per epoch would show one box per line in the book.
    """
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = "".join(previous["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def normalise(nb: nbformat.NotebookNode) -> None:
    """Strip run- and machine-specific metadata from ``nb`` in place; merge consecutive streams."""
    nb.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
        | {k: v for k, v in nb.metadata.items() if k == "colab"}
    )
    for cell in nb.cells:
        if "outputs" in cell:
            cell.outputs = merge_streams(cell.outputs)
        cell.metadata.pop("execution", None)
        cell.metadata.pop("widgets", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


def execute(path: Path, timeout: int = 3600) -> float:
    """Execute the notebook at ``path`` in place and return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("BOOK_PROGRESS", "0")
    resources = {"metadata": {"path": str(path.parent)}}  # the kernel starts in the notebook's folder, as under nbval
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    normalise(nb)
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
