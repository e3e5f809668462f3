"""Files generated from the catalog (dbt mart contracts, Prometheus SLA rules): written, or
checked against what the catalog says now, by one small command-line shape.

Each renderer maps the catalog to {path: text}; `main` writes those files, or with
`--check` exits 1 naming each that differs, which is what the drift tests run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from tollgate.catalog import Catalog, load_catalog

ROOT = Path(__file__).resolve().parent.parent
CATALOG_PATH = ROOT / "catalog.yaml"

Renderer = Callable[[Catalog, Path], dict[Path, str]]


def out_of_date(files: dict[Path, str]) -> list[Path]:
    """The files whose text on disk is not what the catalog renders to."""
    return [p for p, text in files.items() if not p.exists() or p.read_text() != text]


def main(render: Renderer, doc: str, command: str, argv: list[str] | None = None) -> int:
    """`render(catalog, root)` into files under `root`, or check them (`--check`)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=CATALOG_PATH)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to write into")
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args(argv)
    files = render(load_catalog(args.catalog), args.root)
    if args.check:
        stale = out_of_date(files)
        for path in stale:
            print(f"{path} is out of date with the catalog: run {command}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0
