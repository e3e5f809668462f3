"""Export leases: at most one API process runs a job at a time.

Several API processes may share the metadata database. A process runs a job only after
claiming its lease (one conditional UPDATE), renews the lease while it runs, and finishes
the job only while it still holds it (`tollgate.exports.jobs`). A job whose runner died is
claimable again once its lease has lapsed, so a replica's periodic rescan picks it up.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from tollgate.clock import utcnow
from tollgate.db.models import ExportJob

QUEUED, RUNNING = "queued", "running"
LEASE = timedelta(seconds=60)  # a runner renews it every third of this while it runs
# This process, as a lease owner: host, pid and a nonce (pids are reused after a restart).
RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claimable(now: datetime):
    """Jobs no live runner holds: queued, or running under a lease that has lapsed."""
    lapsed = or_(ExportJob.lease_expires_at.is_(None), ExportJob.lease_expires_at < now)
    return or_(ExportJob.status == QUEUED, and_(ExportJob.status == RUNNING, lapsed))


def claim_export_job(session: Session, job_id: str, owner: str, lease: timedelta = LEASE) -> bool:
    """Take the job's lease and mark it running; False when another runner holds it or the
    job is finished. One conditional UPDATE, so two processes never both win."""
    now = utcnow()
    claimed = session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, claimable(now))
        .values(
            status=RUNNING,
            started_at=now,
            rows_done=0,
            lease_owner=owner,
            lease_expires_at=now + lease,
        )
    )
    return claimed.rowcount == 1


class LeaseKeeper:
    """Renews a running job's lease every third of its length until the run ends."""

    def __init__(self, sessions, job_id: str, lease: timedelta) -> None:
        self.sessions, self.job_id, self.lease = sessions, job_id, lease
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.lease.total_seconds() / 3):
            try:
                with self.sessions.begin() as session:
                    session.execute(
                        update(ExportJob)
                        .where(ExportJob.id == self.job_id, ExportJob.lease_owner == RUNNER_ID)
                        .values(lease_expires_at=utcnow() + self.lease)
                    )
            except Exception:  # noqa: BLE001 - a database blip: the next renewal retries
                continue
