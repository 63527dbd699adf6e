"""Keep credentials out of everything golive prints or writes.

Two layers: every URL or DSN shape (``scheme://user:password@host``, ``password=...``) is masked wherever it
appears, and every secret value the configuration knows about (passwords taken from DSNs and URLs, values of
secret-looking environment variables it interpolated) is replaced by ``***`` wherever it appears.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "***"

# scheme://user:password@  ->  scheme://user:***@
_URL_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s/]+)(?P<tail>@)")
# libpq key=value form and similar assignments: password=..., secret_access_key: ...
_ASSIGNMENT = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|secret|token|secret_access_key|aws_secret_access_key)\s*[=:]\s*)"
    r"(?P<quote>['\"]?)(?P<secret>[^\s'\",;&]+)",
    re.IGNORECASE,
)
_SECRET_ENV_NAME = re.compile(r"(PASS|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY)", re.IGNORECASE)

# Shorter literal secrets would mask ordinary words; the URL and assignment patterns still cover them.
_MIN_LITERAL = 3


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    return bool(_SECRET_ENV_NAME.search(name))


def password_of(url_or_dsn: str) -> str | None:
    """The password embedded in a URL or a libpq key=value DSN, if any."""
    if "://" in url_or_dsn:
        try:
            password = urlsplit(url_or_dsn).password
        except ValueError:
            return None
        return unquote(password) if password else None
    match = _ASSIGNMENT.search(url_or_dsn)
    return match.group("secret") if match else None


class Masker:
    """Replaces known secrets and credential shapes with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= _MIN_LITERAL:
                self._secrets.add(secret)
                # The same secret as it appears percent-encoded in a URL.
                self._secrets.add(quote(secret, safe=""))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        # Longest first, so a secret containing another is replaced whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _URL_USERINFO.sub(lambda m: m.group("head") + MASK + m.group("tail"), text)
        text = _ASSIGNMENT.sub(lambda m: m.group("head") + m.group("quote") + MASK, text)
        return text

    def deep(self, value: Any, _seen: set[int] | None = None) -> Any:
        """Mask every string inside a report-like object, in place where possible; returns the result.

        Walks strings, lists, tuples, dicts and dataclass instances (pytest's traceback representations are
        dataclasses), so the masked object keeps its structure and still renders the way pytest renders it.
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


def mask_url(url: str) -> str:
    """A URL or DSN with its password shown as ``***`` (no other knowledge needed)."""
    return Masker()(url)
