"""`tollgate invoices show`: the stored invoice as a table; failures one line, exit 1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tollgate.cli import app
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.settings import Settings
from tollgate.usage import Delivery, write_deliveries


@pytest.fixture
def run(cli_env):
    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), env=cli_env)

    return invoke


@pytest.fixture
def acme(run):
    assert run("tenants", "create", "acme", "--tier", "standard").exit_code == 0
    settings = Settings()
    upgrade(settings.metadata_db_url)
    at = datetime(2026, 10, 9, 12, tzinfo=UTC)
    write_deliveries(
        engine_for(settings.metadata_db_url),
        [
            *(
                Delivery(f"q{i}", "acme", "transaction-risk", "query", 1, 10, 1.0, "", at)
                for i in range(3)
            ),
            Delivery("r1", "acme", "customer-behavior-daily", "records", 1234, 10, 1.0, "", at),
        ],
    )
    return "acme"


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_show_prints_line_items_and_total(run, acme):
    # Not computed yet: a one-line error that says how to get it.
    assert "no invoice for acme in 2026-10" in _one_line_error(
        run("invoices", "show", acme, "2026-10")
    )
    result = run("invoices", "show", acme, "2026-10", "--compute")
    assert result.exit_code == 0, result.output
    out = result.output
    # 3 x $1.50 = $4.50; 1234 x $0.10 = $123.40; total $127.90
    assert "Invoice acme:2026-10" in out
    assert "transaction-risk" in out and "$4.50" in out
    assert "customer-behavior-daily" in out and "1,234" in out and "$123.40" in out
    assert "total due: $127.90 USD" in out
    # Stored now: shown without recomputing.
    assert "total due: $127.90 USD" in run("invoices", "show", acme, "2026-10").output


@pytest.mark.parametrize("command", [("show",), ("trace", "1")])
def test_errors_are_one_line(run, acme, command):
    verb, *rest = command
    assert "YYYY-MM" in _one_line_error(run("invoices", verb, acme, "2026-13", *rest))
    assert "no tenant 'ghost'" in _one_line_error(run("invoices", verb, "ghost", "2026-10", *rest))
