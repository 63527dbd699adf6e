"""Keep credentials out of everything golive prints or writes.

Two layers, applied where each artifact is written (the terminal writer, log handlers, the reports pytest
builds, the decision record, the HTML report, JUnit XML through the reports it reads, the timeline):

- credential *shapes* are masked wherever they appear, with no knowledge needed: URL userinfo
  (``scheme://user:***@host``), keyword/value assignments of secret-named keys in libpq DSNs, query strings,
  JSON and headers (``password='***'``, ``?access_token=***``, ``"api_key": "***"``), and ``Authorization``
  credentials (``Basic ***``, ``Bearer ***``);
- every secret *value* the configuration knows (passwords of its URLs and DSNs, the ``user:password`` base64
  that basic auth sends, secret-named query parameters of its URLs and paths, values of secret-looking
  environment variables it interpolated) is replaced by ``***`` in each form it may take in an output:
  percent-encoded, base64, escaped in a Python repr, JSON or libpq quotes, HTML-escaped; and when a
  truncation (``...``) cut it short.

Text is shortened with ``clip``, which marks the cut with ``...``, so a cut secret is still found.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

import markupsafe

MASK = "***"
CUT = "..."

# scheme://user:password@  ->  scheme://user:***@  (the password runs to the last @ of the authority)
_URL_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^\s/?#]+)(?P<tail>@)")
# ... and the same URL cut short by a truncation before its @: scheme://user:passw...
_URL_USERINFO_CUT = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s/?#]+?)(?=\.\.\.)")
# Keys whose value is a credential: password, PGPASSWORD, access_token, X-Api-Key, client_secret, ...
_KEYWORD = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|secret[_-]?key|credentials?|signature)(?![A-Za-z0-9_-])"
)
_SECRET_KEY = rf"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]*?{_KEYWORD}"
# key=value (any such key), "key": value (a quoted key: JSON, a dict's repr) or key: value (a bare keyword or
# a header: X-Api-Key; not an operation name such as describe_secret: ...); the value quoted the libpq way
# ('a b', \' and \\ escaped), double-quoted (JSON), or bare (to whitespace, or to the next separator of a
# query string or a list).
_ASSIGNMENT = re.compile(
    rf"(?P<head>(?:{_SECRET_KEY}\s*=|[\"']{_SECRET_KEY}[\"']\s*:|(?<![A-Za-z0-9_-])(?:[A-Za-z0-9]+-)*{_KEYWORD}\s*:)\s*)"
    r"(?P<secret>'(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?|(?:[^\s'\",;&<>()\[\]{}\\]|\\.)+)",
    re.IGNORECASE,
)
# Authorization credentials: Basic <base64 of user:password>, Bearer/Token <token>.
_AUTHORIZATION = re.compile(r"\b(?P<head>(?P<scheme>Basic|Bearer|Token)\s+)(?P<secret>[A-Za-z0-9+/=._~-]{8,})",
                            re.IGNORECASE)
_SECRET_ENV_NAME = re.compile(r"(PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY)", re.IGNORECASE)
_SECRET_NAME = re.compile(rf"^{_SECRET_KEY}$", re.IGNORECASE)
# libpq keyword/value pairs: key = value, the value bare (backslash escapes allowed) or single-quoted.
_CONNINFO_PAIR = re.compile(r"(?P<key>[A-Za-z_]+)\s*=\s*(?:'(?P<quoted>(?:[^'\\]|\\.)*)'|(?P<bare>(?:[^\s'\\]|\\.)+))")

# Shorter literal secrets would mask ordinary words; the shapes above still cover them.
_MIN_LITERAL = 3
# The shortest part of a known secret recognised next to a truncation mark.
_MIN_PART = 4


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    return bool(_SECRET_ENV_NAME.search(name))


def is_secret_name(name: str) -> bool:
    """Whether a key or query parameter name says its value is a credential (``access_token``, ``api_key``)."""
    return bool(_SECRET_NAME.match(name))


def password_of(url_or_dsn: str) -> str | None:
    """The password embedded in a URL or a libpq keyword/value DSN, if any."""
    if "://" in url_or_dsn:
        try:
            password = urlsplit(url_or_dsn).password
        except ValueError:
            return None
        return unquote(password) if password else None
    for pair in _CONNINFO_PAIR.finditer(url_or_dsn):
        if pair["key"].lower() == "password":
            value = pair["quoted"] if pair["quoted"] is not None else pair["bare"]
            return re.sub(r"\\(.)", r"\1", value) or None
    return None


def secrets_of(url_or_dsn: str) -> list[str]:
    """The credentials a URL, a DSN or a path with a query string carries: its password, the base64 of
    ``user:password`` basic auth sends from it, and the values of its secret-named query parameters."""
    found = [password_of(url_or_dsn) or ""]
    try:
        parts = urlsplit(url_or_dsn)
        username, password = parts.username, parts.password
    except ValueError:
        return found
    if password is not None:
        userinfo = f"{unquote(username or '')}:{unquote(password)}"
        found.append(base64.b64encode(userinfo.encode()).decode())
    found += [value for name, value in parse_qsl(parts.query, keep_blank_values=False) if is_secret_name(name)]
    return [secret for secret in found if secret]


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, the cut marked with ``...`` (so a cut secret is still masked)."""
    return text if len(text) <= limit else text[: max(limit - len(CUT), 0)] + CUT


def _forms(secret: str) -> Iterator[str]:
    """The forms a secret takes in outputs: as is, percent-encoded or libpq-quoted, each as is or escaped in a
    Python repr (either quote), JSON or HTML (either escaper)."""
    libpq = secret.replace("\\", "\\\\").replace("'", "\\'")
    for base in (secret, libpq, quote(secret, safe=""), quote(secret), quote_plus(secret)):
        yield base
        yield base.replace("\\", "\\\\").replace("'", "\\'")
        yield base.replace("\\", "\\\\").replace('"', '\\"')
        yield json.dumps(base)[1:-1]
        yield html.escape(base)
        yield str(markupsafe.escape(base))  # how Jinja2 (golive's pages, pytest-html's) escapes: &#39; &#34;


def _is_basic_credential(token: str) -> bool:
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


class Masker:
    """Replaces known secrets and credential shapes with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._literal: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= _MIN_LITERAL:
                self._secrets.update(form for form in _forms(secret) if len(form) >= _MIN_LITERAL)
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._literal = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
            if CUT in text:
                text = self._cut_secrets(text)
        text = _URL_USERINFO.sub(lambda m: m["head"] + MASK + m["tail"], text)
        if CUT in text:
            text = _URL_USERINFO_CUT.sub(lambda m: m["head"] + MASK, text)
        text = _ASSIGNMENT.sub(_mask_assignment, text)
        return _AUTHORIZATION.sub(_mask_authorization, text)

    def _cut_secrets(self, text: str) -> str:
        """Mask what is left of a known secret next to a truncation mark: ``Sup3r-s...`` or ``...s3cret``."""
        spans: list[tuple[int, int]] = []
        for mark in re.finditer(re.escape(CUT), text):
            start, end = mark.span()
            for secret in self._secrets:
                longest = len(secret) - 1
                before = next((k for k in range(min(longest, start), _MIN_PART - 1, -1)
                               if text.startswith(secret[:k], start - k)), 0)
                if before:
                    spans.append((start - before, start))
                after = next((k for k in range(min(longest, len(text) - end), _MIN_PART - 1, -1)
                              if text.startswith(secret[-k:], end)), 0)
                if after:
                    spans.append((end, end + after))
        for start, end in sorted(set(spans), reverse=True):
            text = text[:start] + MASK + text[end:]
        return text

    def deep(self, value: Any, _seen: set[int] | None = None) -> Any:
        """Mask every string inside a report-like object, in place where possible; returns the result.

        Walks strings, lists, tuples, dicts and dataclass instances (pytest's traceback representations are
        dataclasses: ReprEntry.lines, ReprLocals.lines, ReprFuncArgs.args, ReprFileLocation.message), so the
        masked object keeps its structure and still renders the way pytest renders it.
        """
        seen = _seen if _seen is not None else set()
        if isinstance(value, str):
            return self(value)
        if id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, list):
            value[:] = [self.deep(item, seen) for item in value]
            return value
        if isinstance(value, tuple):
            return type(value)(*[self.deep(item, seen) for item in value]) if hasattr(value, "_fields") else (
                tuple(self.deep(item, seen) for item in value)
            )
        if isinstance(value, dict):
            for key in list(value):
                value[key] = self.deep(value[key], seen)
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                current = getattr(value, field.name, None)
                masked = self.deep(current, seen)
                if masked is not current:
                    with contextlib.suppress(AttributeError, TypeError):
                        object.__setattr__(value, field.name, masked)
            return value
        return value


def _mask_assignment(match: re.Match[str]) -> str:
    secret = match["secret"]
    quote_char = secret[0] if secret[0] in "'\"" else ""
    closed = quote_char and len(secret) > 1 and secret.endswith(quote_char)
    return match["head"] + quote_char + MASK + (quote_char if closed else "")


def _mask_authorization(match: re.Match[str]) -> str:
    secret = match["secret"]
    if secret.endswith(CUT):
        return match["head"] + MASK  # cut short: what is left cannot be checked, and may be a credential's start
    if match["scheme"].lower() == "basic" and not _is_basic_credential(secret):
        return match[0]  # "Basic authentication ...": prose, not a credential
    if match["scheme"].lower() != "basic" and not re.search(r"[0-9._~+/=-]", secret):
        return match[0]
    return match["head"] + MASK


def mask_url(url: str) -> str:
    """A URL or DSN with its password shown as ``***`` (no other knowledge needed)."""
    return Masker()(url)


class MaskingStream:
    """A text stream that masks what is written through it (pytest's terminal writer writes through one)."""

    def __init__(self, stream: TextIO, mask: Callable[[str], str]) -> None:
        self._stream = stream
        self._mask = mask

    def write(self, text: str) -> int:
        return self._stream.write(self._mask(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class MaskingFilter(logging.Filter):
    """Masks a log record before any handler formats it: message, arguments, exception and stack text."""

    def __init__(self, mask: Callable[[str], str]) -> None:
        super().__init__()
        self._mask = mask
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        return True
