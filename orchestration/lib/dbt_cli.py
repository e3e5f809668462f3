"""`tollgate-dbt`: dbt-core's command line, as the batch lane's DbtCliResource runs it.

It is `dbt` itself, with one difference: `--version` answers from the installed package.
dagster-dbt runs `<dbt executable> --version` before each command to learn the dbt version,
and dbt's own `--version` asks PyPI for the latest release: a request to the internet (and
an interpreter importing dbt) at the start of every batch run.
"""

from __future__ import annotations

import sys
from importlib.metadata import version


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"Core:\n  - installed: {version('dbt-core')}")
        return
    from dbt.cli.main import cli

    cli()


if __name__ == "__main__":
    main()
