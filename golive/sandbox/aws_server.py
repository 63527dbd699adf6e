"""moto's server, plus one sandbox-only endpoint to age an S3 object.

S3 has no call that sets an object's ``LastModified`` and moto follows it, so the age-backup helper asks this
process, which holds moto's state in memory, to move the timestamp back:
``POST /golive-sandbox/age-object?bucket=B&key=K&hours=H``. Everything else is moto's own server
(the same application ``moto_server`` runs).

Run: ``python -m golive.sandbox.aws_server --host 127.0.0.1 --port 15000``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

AGE_PATH = "/golive-sandbox/age-object"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _age_object(bucket: str, key: str, hours: float) -> int:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    versions = backend.get_bucket(bucket).keys.getlist(key)
    when = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(hours=hours)
    for version in versions:
        version.last_modified = when
    return len(versions)


class AgeObjectMiddleware:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != AGE_PATH:
            return self.app(environ, start_response)
        query = {name: values[0] for name, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            aged = _age_object(query["bucket"], query["key"], float(query.get("hours", "48")))
            status, body = "200 OK", json.dumps({"aged_versions": aged})
        except Exception as exc:
            status, body = "404 Not Found", json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        start_response(status, [("Content-Type", "application/json")])
        return [body.encode()]


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="python -m golive.sandbox.aws_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    moto_app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        AgeObjectMiddleware(moto_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
