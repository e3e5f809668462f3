"""Runs export jobs off the request path: one background thread per API process.

On start it first resumes every job no live process holds (a restart mid-export loses
nothing: the job pins its snapshot and rewrites its file from the start), then runs jobs as
POST /v1/exports submits them, and rescans every RESCAN_SECONDS for jobs whose runner died
(their lease lapsed; see `tollgate.exports.leases`). Stopping does not wait for a long
export: the job stays `running` and is taken over once its lease lapses.
"""

from __future__ import annotations

import logging
import queue
import threading

from tollgate.catalog import Catalog
from tollgate.exports.jobs import resume_export_jobs, run_export_job
from tollgate.lake import Lake

log = logging.getLogger("tollgate.api.exports")
_STOP = object()
RESCAN_SECONDS = 30.0


class ExportWorker:
    def __init__(self, metadata_db_url: str, lake: Lake, catalog: Catalog) -> None:
        self.metadata_db_url, self.lake, self.catalog = metadata_db_url, lake, catalog
        self._queue: queue.Queue[str | object] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="export-worker", daemon=True)
        self._thread.start()

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def stop(self, timeout: float = 2.0) -> None:
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        """Nothing queued (a job may still be running)."""
        return self._queue.empty()

    def _resume(self) -> None:
        try:
            resumed = resume_export_jobs(self.metadata_db_url, self.lake, self.catalog)
            if resumed:
                log.info("resumed %d export jobs", len(resumed))
        except Exception:
            log.exception("resuming export jobs failed")

    def _run(self) -> None:
        self._resume()
        while True:
            try:
                job_id = self._queue.get(timeout=RESCAN_SECONDS)
            except queue.Empty:
                self._resume()
                continue
            if job_id is _STOP:
                return
            try:
                run_export_job(self.metadata_db_url, self.lake, self.catalog, str(job_id))
            except Exception:
                # run_export_job records a failed job itself; this is a database outage.
                log.exception("export job %s could not be run", job_id)
