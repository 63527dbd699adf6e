"""``golive protection-rule --record FILE``: a GitHub custom deployment protection rule decided by a record.

GitHub holds a job that deploys to a protected environment and sends the rule's GitHub App a
``deployment_protection_rule`` webhook (``action: requested``, ``environment``, ``deployment_callback_url``).
The app answers with ``POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule`` and the
body ``{"environment_name", "state": "approved" | "rejected", "comment"}`` (GitHub answers 204).

This command builds that body from a golive decision record: a GO that golive.acceptance takes is approved
(consistent with its own checks, of the configuration's release and candidate environment, no older than
``--max-age-min``, signed by a trusted key where ``evidence`` is configured or an envelope lies beside it);
REVIEW, NO-GO, and every record the rule refuses are rejected, one that cannot be read with exit 2. The release,
environment and trusted keys come from ``--golive-config`` (else $GOLIVE_CONFIG, else ./golive.yaml);
``--release`` and ``--golive-env`` override them. It prints the request; with ``--send`` it also sends it, with
the token from ``--token-env`` (default ``GITHUB_TOKEN``: the app's installation token), to ``--api-url``
(default https://api.github.com).
A webhook's ``deployment_callback_url`` is used only when it is that API's URL for this rule.

Exit codes: 0 approved, 1 rejected, 2 the record cannot be read (rejected, and sent so with ``--send``), a bad
argument, or a request GitHub did not take.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from golive import acceptance, gates, inputs, reports_dir
from golive.config import ConfigError, load_settings, resolve_path
from golive.evidence import EvidenceError
from golive.masking import clip

API_URL = "https://api.github.com"
COMMENT_LIMIT = 1000
_CALLBACK_PATH = re.compile(r"/repos/([\w.-]+)/([\w.-]+)/actions/runs/(\d+)/deployment_protection_rule")
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")


class RuleError(Exception):
    """A bad argument or a request GitHub did not take. One line."""


@dataclass(frozen=True)
class Review:
    """The request body, and whether the record could be read."""

    environment_name: str
    state: str  # approved or rejected
    comment: str
    readable: bool = True

    def body(self) -> dict[str, str]:
        return {"environment_name": self.environment_name, "state": self.state, "comment": self.comment}


def review(record_path: Path, environment_name: str, expect: acceptance.Expectation,
           now: datetime | None = None) -> Review:
    """The review a decision record gives: approved for a GO the acceptance rule takes (consistent, of the
    expected gate, release and environment, fresh, signed where evidence asks it); else rejected."""
    examined = acceptance.examine(record_path, expect, now)
    if not examined.readable or examined.record is None:
        return Review(environment_name, "rejected", clip(f"golive: rejected: the decision record {record_path.name} "
                                                         f"cannot be read ({examined.problem})", COMMENT_LIMIT),
                      readable=False)
    record = examined.record
    head = f"golive gate {record.gate} on {record.environment} (release {record.release}): {record.verdict} " \
           f"(exit {record.exit_code})"
    signed = [f"signed by {examined.signed_by}"] if examined.signed_by else []
    parts = [head, *([f"rejected: {examined.problem}"] if examined.problem else signed), *record.reasons[:5],
             f"record: {record_path.name}"]
    return Review(environment_name, "approved" if examined.go else "rejected", clip("; ".join(parts), COMMENT_LIMIT))


def expectation(arguments: argparse.Namespace) -> acceptance.Expectation:
    """What the record must be, from the configuration (``--golive-config``, else $GOLIVE_CONFIG, else
    ./golive.yaml): its release and candidate environment, its trusted keys; ``--release`` and ``--golive-env``
    override them, and with both given no configuration is needed (then a signed record cannot be verified, and
    is rejected)."""
    gate = gates.BY_ARGUMENT[arguments.gate].name if arguments.gate else None
    max_age = timedelta(minutes=arguments.max_age_min)
    try:
        path, source = resolve_path(arguments.golive_config, os.environ, Path.cwd())
        if arguments.golive_config is None and arguments.release and arguments.golive_env and not path.exists():
            return acceptance.Expectation(release=arguments.release, environment=arguments.golive_env, gate=gate,
                                          max_age=max_age)
        settings = load_settings(path, source)
        return acceptance.expectation(settings, arguments.golive_env, gate, max_age, release=arguments.release,
                                      reports_dirs=[reports_dir.resolve(None, os.environ, Path.cwd()).path])
    except (ConfigError, acceptance.AcceptanceError, EvidenceError) as error:
        raise RuleError(f"{error} (the record is judged against the configuration's release and environment; or "
                        "give --release and --golive-env)") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", required=True, metavar="FILE", help="the decision record (reports/latest-*.json)")
    parser.add_argument("--webhook", metavar="FILE|-",
                        help="the deployment_protection_rule webhook payload: its environment and callback URL")
    parser.add_argument("--environment", help="the GitHub environment's name (default: the webhook's)")
    parser.add_argument("--repo", metavar="OWNER/REPO", help="the repository (default: the webhook's callback URL)")
    parser.add_argument("--run-id", metavar="N", help="the workflow run (default: the webhook's callback URL)")
    parser.add_argument("--gate", choices=sorted(gates.BY_ARGUMENT),
                        help="the gate the record must be of (approve production on Gate 2's record, not any GO)")
    parser.add_argument("--golive-config", dest="golive_config", metavar="PATH",
                        help="the configuration: the release, environment and trusted keys the record must match "
                             "(default: $GOLIVE_CONFIG, else ./golive.yaml)")
    parser.add_argument("--release", metavar="V", help="the release the record must be of (default: the "
                        "configuration's release.version)")
    parser.add_argument("--golive-env", dest="golive_env", metavar="NAME",
                        help="golive's environment the record must be of (default: the configuration's candidate)")
    parser.add_argument("--max-age-min", type=float, default=60.0, metavar="M",
                        help="an older record is rejected (default 60)")
    parser.add_argument("--send", action="store_true", help="send the review to GitHub (default: only print it)")
    parser.add_argument("--api-url", default=API_URL, help=f"GitHub's REST API (default {API_URL})")
    parser.add_argument("--token-env", default="GITHUB_TOKEN", help="the variable holding the app's token")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="for the request (default 10)")


def _webhook(where: str) -> dict[str, Any]:
    try:
        if where == "-":
            return inputs.json_object(inputs.read_stream(sys.stdin.buffer, "--webhook -"), "--webhook -")
        return inputs.read_json_object(where, f"--webhook {where}", inputs.MAX_EVENT_BYTES)
    except inputs.InputError as error:
        raise RuleError(str(error)) from None


def _target(arguments: argparse.Namespace) -> tuple[str, str, str]:
    """(environment name, repo, run id) from the options, else from the webhook."""
    payload = _webhook(arguments.webhook) if arguments.webhook else {}
    environment = arguments.environment or payload.get("environment")
    repo, run_id = arguments.repo, arguments.run_id
    callback = payload.get("deployment_callback_url")
    if callback is not None and not (repo and run_id):
        api = arguments.api_url.rstrip("/")
        match = _CALLBACK_PATH.fullmatch(str(callback)[len(api):]) if str(callback).startswith(api) else None
        if match is None:  # never send a token where a payload says
            raise RuleError(f"--webhook: deployment_callback_url {clip(str(callback), 200)!r} is not {api}'s URL "
                            "for a run's deployment protection rule")
        repo, run_id = repo or f"{match.group(1)}/{match.group(2)}", run_id or match.group(3)
    if not isinstance(environment, str) or not environment.strip():
        raise RuleError("no environment: pass --environment NAME or --webhook FILE")
    if arguments.send and not (repo and run_id):
        raise RuleError("--send needs the run: pass --repo OWNER/REPO --run-id N or --webhook FILE")
    if repo and not _REPO.fullmatch(repo):
        raise RuleError(f"--repo {repo!r}: expected OWNER/REPO")
    if run_id and not str(run_id).isdigit():
        raise RuleError(f"--run-id {run_id!r}: expected a number")
    return environment, repo or "", str(run_id or "")


def send(api_url: str, repo: str, run_id: str, body: dict[str, str], token: str, timeout_s: float) -> None:
    """POST the review; RuleError unless GitHub answers 2xx."""
    import httpx  # late: only a sent review needs it

    url = f"{api_url.rstrip('/')}/repos/{repo}/actions/runs/{run_id}/deployment_protection_rule"
    headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
               "X-GitHub-Api-Version": "2022-11-28"}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=httpx.Timeout(timeout_s))
    except httpx.HTTPError as error:
        raise RuleError(f"POST {url}: {type(error).__name__}: {clip(str(error), 200)}") from None
    if not response.is_success:
        raise RuleError(f"POST {url}: GitHub answered {response.status_code}: {clip(response.text, 300)}")


def run(arguments: argparse.Namespace) -> int:
    try:
        if arguments.max_age_min <= 0 or arguments.timeout_s <= 0:
            raise RuleError("--max-age-min and --timeout-s must be positive")
        environment, repo, run_id = _target(arguments)
        token = os.environ.get(arguments.token_env, "").strip() if arguments.send else ""
        if arguments.send and not token:
            raise RuleError(f"--send: ${arguments.token_env} holds no token")
        decided = review(Path(arguments.record), environment, expectation(arguments))
        print(json.dumps(decided.body()), flush=True)
        if arguments.send:
            send(arguments.api_url, repo, run_id, decided.body(), token, arguments.timeout_s)
    except RuleError as error:
        print(f"golive protection-rule: {error}", file=sys.stderr)
        return 2
    where = f": sent for {repo} run {run_id}" if arguments.send else ""
    if not decided.readable:
        print(f"golive protection-rule: {decided.comment.removeprefix('golive: ')}{where}", file=sys.stderr)
        return 2
    print(f"golive protection-rule: {decided.state} {environment}{where}", file=sys.stderr)
    return 0 if decided.state == "approved" else 1
