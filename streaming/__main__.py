"""`python -m streaming [bytewax.run options]`: the live lane with recovery on by default.

Initialises the recovery directory (settings.recovery_dir) on first use and hands over to
`bytewax.run`; `--no-recovery` runs without it. Any other option is bytewax.run's own.
SIGTERM or Ctrl-C ends the input, lets the flow take its final snapshot and exits 0.
"""

from __future__ import annotations

import runpy
import sys

from bytewax.errors import BytewaxRuntimeError

from streaming.recovery import ensure_recovery_dir, recovery_dir_of_run
from streaming.runtime import stop_gracefully_on_signals
from tollgate.settings import get_settings

FLOW = "streaming.flows.live_products"
# Seconds per epoch (a snapshot, and a landing file per writer, each); bytewax.run insists
# on both intervals when recovery is on.
SNAPSHOT_INTERVAL = "5"
BACKUP_INTERVAL = "0"


def main(argv: list[str]) -> None:
    args = list(argv)
    if "--no-recovery" in args:
        args.remove("--no-recovery")
    else:
        recovery_dir = recovery_dir_of_run(["", *args])
        if recovery_dir is None:
            recovery_dir = get_settings().recovery_dir
            args = ["-r", str(recovery_dir), *args]
        ensure_recovery_dir(recovery_dir)
        if not {"-s", "--snapshot-interval"} & set(args):
            args += ["-s", SNAPSHOT_INTERVAL]
        if not {"-b", "--backup-interval"} & set(args):
            args += ["-b", BACKUP_INTERVAL]
    flows = [a for a in args if a.startswith("streaming.")]
    flow = flows[0] if flows else FLOW
    args = [a for a in args if a != flow]
    sys.argv = ["bytewax.run", flow, *args]
    stop_gracefully_on_signals()
    try:
        runpy.run_module("bytewax.run", run_name="__main__", alter_sys=True)
    except (KeyboardInterrupt, BytewaxRuntimeError) as exc:
        # A second Ctrl-C or SIGTERM: Bytewax stops at once and recovery resumes from the
        # last snapshot, so a signal is a normal way to stop, not a crash.
        if not _stopped_by_signal(exc):
            raise
        sys.exit(0)


def _stopped_by_signal(exc: BaseException | None) -> bool:
    # The interrupt may surface inside a Python callback, wrapped by Bytewax.
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) or "signal received" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":
    main(sys.argv[1:])
