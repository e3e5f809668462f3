"""dbt in the step's own process, through dbt-core's Python API (dbtRunner).

dagster-dbt's DbtCliResource starts a `dbt` subprocess per invocation. On the batch lane's
daily build that start-up (a fresh interpreter importing dbt, then reloading the project's
saved parse) took longer than building the models. Here the step itself runs dbt's command,
whose partial parse checks the deployment's saved parse, and dagster-dbt's own translation
turns dbt's result events into Dagster events, streamed as each node finishes.

dbt-core keeps process-wide state (flags, registered adapters, the invocation context), so
invocations in one process take turns; each Dagster step runs in its own process or, with
the in-process executor, one after another.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# dbt-core's events that carry a node's result: what dagster-dbt turns into Dagster events.
RESULT_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})
# How often a step waiting on dbt wakes to notice an interrupt (Ctrl-C, a terminated run).
POLL_SECONDS = 0.5
# After a cancel, how long to wait for dbt's running queries to stop before giving up on them.
CANCEL_WAIT_SECONDS = 30.0

_invocation_lock = threading.Lock()
logger = logging.getLogger(__name__)


class DbtInvocationError(Exception):
    """A dbt command that did not succeed, with the errors dbt reported."""


class DbtCancelled(Exception):
    """Raised into dbt's node runners once the step asked dbt to stop."""


def common_flags(project_dir: Path, profiles_dir: Path, target_path: Path) -> list[str]:
    return [
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(target_path),
        # Nothing reads dbt's own log file or its JSON artifacts: results arrive as events.
        "--log-level-file",
        "none",
        "--no-write-json",
        "--no-send-anonymous-usage-stats",
        "--no-use-colors",
    ]


class DbtInProcess:
    """One dbt command at a time in this process.

    `target_path` is the deployment's dbt target, which keeps the parse between runs: loading
    the definitions parsed the project there for the same --vars, so each command's parse
    only checks that nothing changed (dbt's partial parse). Commands write no JSON artifacts
    there; what they compile is overwritten by the next.
    """

    def __init__(self, project_dir: Path, profiles_dir: Path, target_path: Path) -> None:
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.target_path = target_path

    def invoke(
        self,
        args: Sequence[str],
        vars_args: Sequence[str],
        env: Mapping[str, str] | None = None,
        on_event: Callable[[Any], None] | None = None,
        cancelled: threading.Event | None = None,
    ):
        """Run `args` (a dbt command and its flags) to the end, with `env` set; returns dbt's
        result.

        `on_event(msg)` sees every dbt event (from dbt's worker threads). Once `cancelled` is
        set, each node dbt starts fails at once, so the run winds down.
        """
        from dbt.cli.main import dbtRunner  # seconds of imports: only steps that run dbt pay

        errors: list[str] = []

        def callback(msg) -> None:
            if msg.info.level == "error" and msg.info.msg:
                errors.append(msg.info.msg)
            # Raised where dbt turns a node's exception into that node's error (so dbt's
            # queue still accounts for it): each node dbt starts from now on fails at once.
            if cancelled is not None and cancelled.is_set() and msg.info.name == "NodeCompiling":
                raise DbtCancelled("the step was interrupted")
            if on_event is not None:
                on_event(msg)

        flags = common_flags(self.project_dir, self.profiles_dir, self.target_path)
        with _invocation_lock, extra_environ(env or {}):
            try:
                result = dbtRunner(callbacks=[callback]).invoke([*args, *vars_args, *flags])
            finally:
                release_warehouse()
        _raise_unless_successful(args[0], result, errors)
        return result

    def stream(
        self,
        args: Sequence[str],
        vars_args: Sequence[str],
        env: Mapping[str, str],
        to_dagster: Callable[[dict], Iterator[Any]],
    ) -> Iterator[Any]:
        """Run `args` in a worker thread and yield `to_dagster(raw_event)` for each node's
        result as it finishes; an interrupt of the step cancels dbt's running queries."""
        from dbt_common.events.functions import msg_to_dict

        results: queue.Queue = queue.Queue()
        done = object()
        cancelled = threading.Event()
        outcome: dict[str, BaseException] = {}

        def on_event(msg) -> None:
            if msg.info.name in RESULT_EVENTS:
                results.put(msg_to_dict(msg))

        def run() -> None:
            try:
                self.invoke(args, vars_args, env, on_event, cancelled)
            except BaseException as exc:  # re-raised in the step's thread
                outcome["error"] = exc
            finally:
                results.put(done)

        worker = threading.Thread(target=run, name="dbt", daemon=True)
        worker.start()
        try:
            while (item := _next(results)) is not done:
                yield from to_dagster(item)
        finally:
            if worker.is_alive():
                cancelled.set()
                cancel_running_queries()
                worker.join(CANCEL_WAIT_SECONDS)
        if "error" in outcome:
            raise outcome["error"]


def _next(results: queue.Queue) -> Any:
    # A bounded wait, so an interrupt reaches the step between waits.
    while True:
        try:
            return results.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue


def _raise_unless_successful(command: str, result, errors: list[str]) -> None:
    if result.success:
        return
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception  # KeyboardInterrupt and the like stay what they are
    detail = "\n".join(errors) or str(result.exception or "see dbt's output above")
    raise DbtInvocationError(f"dbt {command} failed:\n{detail}") from result.exception


def cancel_running_queries() -> None:
    """Interrupt the queries dbt's registered adapters are running (dbt's own Ctrl-C path)."""
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        if not adapter.is_cancelable():
            continue
        try:
            with adapter.connection_named("master"):
                adapter.cancel_open_connections()
        except Exception:
            # A connection that closed meanwhile cannot be interrupted (dbt-duckdb raises):
            # its query ended anyway, and no further node starts once cancelled.
            logger.warning("dbt: could not cancel every running query", exc_info=True)


def release_warehouse() -> None:
    """Close the DuckDB file dbt-duckdb keeps open between invocations (`keep_open`).

    In its own process dbt let go of the file on exit; here the step's later readers (the
    quality gates, publishing) open it read-only, which DuckDB refuses while this process
    still holds it for writing.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # dbt never opened the warehouse in this invocation
        return
    # Closed here and now: dropping the environment alone leaves the file open until the
    # garbage collector gets to whatever still refers to it.
    environment.close()
    DuckDBConnectionManager.close_all_connections()


_environ_lock = threading.Lock()


@contextmanager
def extra_environ(extra: Mapping[str, str]) -> Iterator[None]:
    """`extra` set in os.environ while dbt runs: its env_var() reads the process environment."""
    with _environ_lock:
        saved = {k: os.environ.get(k) for k in extra}
        os.environ.update(extra)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
