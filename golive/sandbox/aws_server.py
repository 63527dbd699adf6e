"""moto's server, plus one sandbox-only endpoint to age an S3 object, and HAProxy as the ALB's data plane.

S3 has no call that sets an object's ``LastModified`` and moto follows it, so the age-backup helper asks this
process, which holds moto's state in memory, to move the timestamp back:
``POST /golive-sandbox/age-object?bucket=B&key=K&hours=H``. Everything else is moto's own server
(the same application ``moto_server`` runs).

moto's ALB forwards nothing: traffic enters the sandbox through HAProxy. So that a ``ModifyListener`` (what
``golive cutover`` calls on an ALB) moves real traffic as on AWS, this process applies the weights of a
listener's forward action to HAProxy's servers of the same name (target group ``orchestrator-blue`` ->
``be/blue``) once moto has accepted the call. The sandbox's own ``helper alb-weights`` sends its calls with
the user agent ``ALB_ONLY_AGENT`` and is not mirrored: it makes the two disagree on purpose.

Run: ``python -m golive.sandbox.aws_server --host 127.0.0.1 --port 15000``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

AGE_PATH = "/golive-sandbox/age-object"
ALB_ONLY_AGENT = "golive-sandbox-alb-only"
HAPROXY_BACKEND = "be"

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


class AlbDataPlane:
    """After moto accepts a ModifyListener, set HAProxy's server weights to the listener's forward weights."""

    def __init__(self, app: WSGIApp, haproxy_socket: str | None) -> None:
        self.app = app
        self.haproxy_socket = haproxy_socket

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.haproxy_socket is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("Action") != "ModifyListener" or ALB_ONLY_AGENT in environ.get("HTTP_USER_AGENT", ""):
            return self.app(environ, start_response)
        statuses: list[str] = []

        def recording(status: str, headers: Any, *rest: Any) -> Any:
            statuses.append(status)
            return start_response(status, headers, *rest)

        answer = list(self.app(environ, recording))
        if statuses and statuses[0].startswith("200") and form.get("ListenerArn"):
            self._mirror(form["ListenerArn"])
        return answer

    def _mirror(self, listener_arn: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.elbv2.models import elbv2_backends

        from golive.probes import haproxy_socket

        region = listener_arn.split(":")[3]
        backend = elbv2_backends[DEFAULT_ACCOUNT_ID][region]
        listeners = backend.describe_listeners(None, [listener_arn])
        commands = []
        for action in listeners[0].default_actions if listeners else []:
            for group in (action.data.get("ForwardConfig") or {}).get("TargetGroups", []):
                target_group = backend.target_groups.get(group["TargetGroupArn"])
                if target_group is not None:
                    server = target_group.name.rsplit("-", 1)[-1]
                    commands.append(f"set weight {HAPROXY_BACKEND}/{server} {int(group.get('Weight', 1))}")
        # The side gaining weight first, as golive's own HAProxy writer does.
        commands.sort(key=lambda command: -int(command.rsplit(" ", 1)[-1]))
        if commands and self.haproxy_socket:
            answer = haproxy_socket.command(self.haproxy_socket, "; ".join(commands), 5.0).strip()
            if answer:
                print(f"aws_server: HAProxy answered {answer!r} to {'; '.join(commands)}", file=sys.stderr)


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="python -m golive.sandbox.aws_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--haproxy-socket", help="HAProxy's admin socket: mirror ALB listener weights to it")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    moto_app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        AlbDataPlane(AgeObjectMiddleware(moto_app), args.haproxy_socket),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
