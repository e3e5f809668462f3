# The verbs people and CI share. `make demo` and `make test` are all a newcomer needs.
.PHONY: demo test lint bench bench-quick uv

# uv on PATH, or the one pip installs as a module when it is not.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# Benchmark scripts; files starting with `_` are their shared helpers.
BENCHES := $(filter-out bench/_%,$(wildcard bench/*.py))

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install uv

# Bytecode compiled at install: every process of the platform and of the tests then starts
# without compiling its imports (several seconds for Dagster where .pyc files are not written).
demo: uv
	$(UV) sync --frozen --compile-bytecode
	$(UV) run tollgate demo

# With the extras the tests exercise (Dagster on PostgreSQL).
test: uv
	$(UV) sync --frozen --extra postgres --compile-bytecode
	$(UV) run pytest

lint: uv
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run python -m orchestration.lib.dbt_contracts --check
	$(UV) run python monitoring/render_rules.py --check

bench: uv
	@set -e; for script in $(BENCHES); do echo "== $$script"; $(UV) run python $$script; done

bench-quick: uv
	@set -e; for script in $(BENCHES); do echo "== $$script"; $(UV) run python $$script --quick; done
