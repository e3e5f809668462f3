"""`python -m api`: serve the Data API (uvicorn, with the head limit of `api.server`).

Takes uvicorn's usual `--host`, `--port`, `--log-level`, `--no-access-log` and `--workers`;
host and port default to the settings' `api_host` and `api_port`.
"""

from __future__ import annotations

import argparse

import uvicorn

from api.server import HeadLimitedProtocol
from tollgate.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "api.main:app",
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        workers=args.workers,
        http=HeadLimitedProtocol,
    )


if __name__ == "__main__":
    main()
