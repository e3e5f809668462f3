"""Runs in its own environment with the real `delta-sharing` client (not the project's):
reads a JSON list of jobs from argv[1], runs each, prints one JSON object of answers.

A job is {"name", "profile", "list": true} (the shares and all tables it sees) or
{"name", "profile", "table": "<share>.<schema>.<table>", "options": {...}} (load_as_pandas;
a refusal answers {"error", "status"})."""

import json
import sys

import delta_sharing
from delta_sharing.rest_client import DataSharingRestClient

# A test wants the first answer: no backing off and retrying a refusal or a server error.
DataSharingRestClient._should_retry = lambda self, error: False


def plain(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def run(job: dict) -> dict:
    profile = job["profile"]
    if job.get("list"):
        client = delta_sharing.SharingClient(profile)
        return {
            "shares": [s.name for s in client.list_shares()],
            "tables": sorted(f"{t.share}.{t.schema}.{t.name}" for t in client.list_all_tables()),
        }
    try:
        frame = delta_sharing.load_as_pandas(f"{profile}#{job['table']}", **job.get("options", {}))
    except Exception as exc:  # the refusal is the answer
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return {"error": type(exc).__name__, "status": status}
    rows = [{k: plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
    return {"rows": rows, "columns": list(frame.columns)}


if __name__ == "__main__":
    print(json.dumps({job["name"]: run(job) for job in json.loads(sys.argv[1])}))
