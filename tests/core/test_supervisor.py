"""The demo supervisor: prefixed output, clean stop on SIGTERM/Ctrl-C, failure when a child dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# A supervisor run in its own process, so the test can signal it like a terminal would.
RUNNER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from tollgate.supervisor import Child, supervise
    spec = json.loads(sys.argv[1])
    children = [
        Child(c["name"], [sys.executable, "-c", c["code"]], signal_leader_only=c.get("leader", 0))
        for c in spec["children"]
    ]
    log_dir = spec.get("log_dir")
    sys.exit(supervise(children, grace_seconds=spec["grace"], log_dir=log_dir and Path(log_dir)))
""")

# Writes its pid, says hello, then sleeps until signalled.
SLEEPER = (
    "import os, time; open({pidfile!r}, 'w').write(str(os.getpid())); "
    "print('hello'); time.sleep(60)"
)
STUBBORN = (
    "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open({pidfile!r}, 'w').write(str(os.getpid())); print('ignoring SIGTERM'); time.sleep(60)"
)


def start(
    children: list[dict], grace: float = 5.0, log_dir: Path | None = None
) -> subprocess.Popen:
    spec = json.dumps({"children": children, "grace": grace, "log_dir": log_dir and str(log_dir)})
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(paths: list[Path], timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while not all(p.exists() and p.read_text() for p in paths):
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.05)
    return [int(p.read_text()) for p in paths]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes; its parent (the supervisor) may be gone already.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sigterm_stops_every_child_and_exits_zero(tmp_path):
    pidfiles = [tmp_path / "a.pid", tmp_path / "b.pid"]
    sup = start(
        [
            {"name": "alpha", "code": SLEEPER.format(pidfile=str(pidfiles[0]))},
            {"name": "beta", "code": SLEEPER.format(pidfile=str(pidfiles[1]))},
        ]
    )
    pids = wait_for(pidfiles)
    time.sleep(0.3)  # let the hellos through the relay
    sup.send_signal(signal.SIGTERM)
    out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0, out
    assert not any(alive(p) for p in pids)
    assert "alpha      | hello" in out and "beta       | hello" in out
    assert "stopping alpha, beta" in out


def test_ctrl_c_is_a_clean_stop_too(tmp_path):
    pidfile = tmp_path / "a.pid"
    sup = start([{"name": "alpha", "code": SLEEPER.format(pidfile=str(pidfile))}])
    (pid,) = wait_for([pidfile])
    sup.send_signal(signal.SIGINT)
    out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0, out
    assert not alive(pid)


def test_a_doubled_ctrl_c_still_gets_the_grace_period(tmp_path):
    """Ctrl-C under `uv run` reaches us twice at once; that is one interrupt, not two."""
    pidfile = tmp_path / "s.pid"
    sup = start([{"name": "stubborn", "code": STUBBORN.format(pidfile=str(pidfile))}], grace=1.5)
    wait_for([pidfile])
    began = time.monotonic()
    sup.send_signal(signal.SIGINT)
    sup.send_signal(signal.SIGINT)
    out, _ = sup.communicate(timeout=30)
    assert time.monotonic() - began >= 1.5, out
    assert "killing it after 1.5s" in out


def test_a_later_second_ctrl_c_kills_at_once(tmp_path):
    pidfile = tmp_path / "s.pid"
    sup = start([{"name": "stubborn", "code": STUBBORN.format(pidfile=str(pidfile))}], grace=30)
    (pid,) = wait_for([pidfile])
    began = time.monotonic()
    sup.send_signal(signal.SIGINT)
    time.sleep(1.5)
    sup.send_signal(signal.SIGINT)
    out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0, out
    assert time.monotonic() - began < 10
    assert "killing it on a second interrupt" in out
    assert not alive(pid)


# A leader that stops its own helper through a pipe, as `dagster dev` does; the helper notes
# how it was stopped: "pipe" when its leader closed the pipe, "sigterm" when signalled directly.
LEADER = textwrap.dedent("""
    import signal, subprocess, sys
    signal.signal(signal.SIGTERM, lambda *_: None)
    helper = subprocess.Popen([sys.executable, "-c", {helper!r}], stdin=subprocess.PIPE)
    open({pidfile!r}, "w").write(str(helper.pid))
    signal.pause()
    helper.stdin.close()
    helper.wait()
""")
HELPER = textwrap.dedent("""
    import signal, sys
    def noted(how):
        open({notefile!r}, "w").write(how)
        sys.exit(0)
    signal.signal(signal.SIGTERM, lambda *_: noted("sigterm"))
    sys.stdin.read()
    noted("pipe")
""")


def test_a_leader_only_child_stops_its_own_helpers(tmp_path):
    """Only the leader is signalled; its helper is stopped by the leader, not interrupted."""
    pidfile, notefile = tmp_path / "helper.pid", tmp_path / "how"
    code = LEADER.format(helper=HELPER.format(notefile=str(notefile)), pidfile=str(pidfile))
    sup = start([{"name": "leader", "code": code, "leader": True}])
    (helper_pid,) = wait_for([pidfile])
    time.sleep(0.3)
    sup.send_signal(signal.SIGINT)
    out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0, out
    assert notefile.read_text() == "pipe", out
    assert not alive(helper_pid)


def test_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    pidfile = tmp_path / "s.pid"
    sup = start([{"name": "stubborn", "code": STUBBORN.format(pidfile=str(pidfile))}], grace=1.0)
    (pid,) = wait_for([pidfile])
    time.sleep(0.3)
    began = time.monotonic()
    sup.send_signal(signal.SIGTERM)
    out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 0, out
    assert time.monotonic() - began >= 1.0
    assert "stubborn did not stop; killing it after 1s" in out
    assert not alive(pid)


def test_a_child_dying_stops_the_rest_and_fails(tmp_path):
    pidfile = tmp_path / "a.pid"
    sup = start(
        [
            {"name": "alpha", "code": SLEEPER.format(pidfile=str(pidfile))},
            {
                "name": "crasher",
                "code": "import time, sys; time.sleep(1); print('boom'); sys.exit(3)",
            },
        ]
    )
    (pid,) = wait_for([pidfile])
    out, _ = sup.communicate(timeout=30)
    assert sup.returncode == 1, out
    assert "crasher    | boom" in out
    assert "crasher exited unexpectedly with code 3" in out
    assert not alive(pid)


def test_a_child_that_cannot_start_fails_cleanly(tmp_path):
    from tollgate.supervisor import Child, Supervisor

    class Lines(list):
        def write(self, s):
            self.append(s)

        def flush(self):
            pass

    out = Lines()
    code = Supervisor([Child("ghost", [str(tmp_path / "no-such-program")])], out=out).run()
    assert code == 1
    assert any("cannot start ghost" in line for line in out)


@pytest.mark.parametrize(
    ("line", "previous", "shown"),
    [
        ('INFO:     127.0.0.1:5 - "GET /v1/products HTTP/1.1" 200 OK', False, True),
        (
            "2026-11-30 11:24:41 +0000 - dagster - DEBUG - batch_lane - 1f2e - STEP_START",
            True,
            False,
        ),
        (
            "2026-11-30 11:24:41 +0000 - dagster - INFO - batch_lane - 1f2e - RUN_SUCCESS",
            False,
            True,
        ),
        ("dagster.daemon.SensorDaemon - WARNING - sensor took long", False, True),
        ("[ERROR] the live store is unreachable", False, True),
        ("Traceback (most recent call last):", False, False),
        ("Traceback (most recent call last):", True, True),
        ("a DEBUGGER attached; nothing to do with levels", True, True),
    ],
)
def test_console_shows_info_and_above(line, previous, shown):
    from tollgate.supervisor import console_worthy

    assert console_worthy(line, previous) is shown


def test_debug_lines_go_to_the_log_file_only(tmp_path):
    pidfile, logs = tmp_path / "a.pid", tmp_path / "logs"
    code = (
        "import os, time; print('x - DEBUG - step started'); print('  detail of the step'); "
        "print('x - INFO - run finished'); "
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    sup = start([{"name": "alpha", "code": code}], log_dir=logs)
    wait_for([pidfile])
    time.sleep(0.5)
    sup.send_signal(signal.SIGTERM)
    out, _ = sup.communicate(timeout=30)
    relayed = [line for line in out.splitlines() if line.startswith("alpha")]
    assert relayed == ["alpha      | x - INFO - run finished"], out
    logged = (logs / "alpha.log").read_text()
    for text in ("x - DEBUG - step started", "  detail of the step", "x - INFO - run finished"):
        assert text in logged
