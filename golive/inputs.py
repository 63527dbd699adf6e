"""The one bounded reader of what golive is handed from outside: decision records, envelopes, attestations,
hook events, webhook payloads, serve's request bodies.

Every document is read with its size capped, only from a regular file (a FIFO, ``/dev/zero`` or a directory is
refused before a byte is read), never through a symlink that leaves the file's own directory, and parsed with
its nesting depth capped before the parser sees it: a 200,000-deep ``[[[[`` is one line, not a RecursionError.
Every refusal is an ``InputError`` whose text is one line naming what was read and why.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import IO, Any

MAX_BYTES = 16 * 1024 * 1024  # a decision record of a large catalog is well under 1 MiB
MAX_EVENT_BYTES = 1024 * 1024  # hook events, webhook payloads, request bodies
MAX_DEPTH = 64  # golive's own documents nest about 8 deep

# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class InputError(ValueError):
    """A document golive will not read: too large, too deep, not a regular file, not JSON. One line."""


def read_bytes(path: Path | str, what: str | None = None, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file, at most ``max_bytes``; a symlink may point only within its own directory."""
    path = Path(path)
    name = what or str(path)
    try:
        if path.is_symlink():
            target = path.resolve(strict=True)
            if target.parent != path.absolute().parent.resolve():
                raise InputError(f"{name}: a symlink that leaves its directory (to {target}); not read")
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except InputError:
        raise
    except OSError as error:
        raise InputError(f"{name}: cannot read it ({error.strerror or type(error).__name__})") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError(f"{name}: not a regular file; not read")
        return read_stream(handle, name, max_bytes)


def read_stream(stream: IO[bytes], what: str, max_bytes: int = MAX_EVENT_BYTES) -> bytes:
    """At most ``max_bytes`` from a binary stream (standard input)."""
    try:
        data = stream.read(max_bytes + 1)
    except OSError as error:
        raise InputError(f"{what}: cannot read it ({error.strerror or type(error).__name__})") from None
    if len(data) > max_bytes:
        raise InputError(f"{what}: larger than {max_bytes} bytes; not read")
    return data


def depth(data: bytes) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), without parsing it."""
    deepest = level = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
        elif token in (b"]", b"}"):
            level -= 1
    return deepest


def parse_json(data: bytes | str, what: str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """A JSON document from text, its size and nesting capped."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise InputError(f"{what}: larger than {max_bytes} bytes; not read")
    if depth(raw) > max_depth:
        raise InputError(f"{what}: nested deeper than {max_depth} levels; not read")
    try:
        return json.loads(raw)
    except RecursionError:  # the depth scan should have caught it; a parser's own limit is not a traceback
        raise InputError(f"{what}: nested too deep; not read") from None
    except UnicodeDecodeError:
        raise InputError(f"{what}: not UTF-8 text") from None
    except ValueError as error:
        raise InputError(f"{what}: not JSON ({str(error).splitlines()[0][:120]})") from None


def read_json(path: Path | str, what: str | None = None, max_bytes: int = MAX_BYTES,
              max_depth: int = MAX_DEPTH) -> Any:
    """A JSON document from a regular file, bounded (``read_bytes``, ``parse_json``)."""
    name = what or str(path)
    return parse_json(read_bytes(path, name, max_bytes), name, max_depth, max_bytes)


def read_json_object(path: Path | str, what: str | None = None, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """``read_json``, and it must be a JSON object."""
    document = read_json(path, what, max_bytes)
    if not isinstance(document, dict):
        raise InputError(f"{what or path}: not a JSON object")
    return document


def json_object(data: bytes | str, what: str, max_bytes: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """``parse_json``, and it must be a JSON object."""
    document = parse_json(data, what, max_bytes=max_bytes)
    if not isinstance(document, dict):
        raise InputError(f"{what}: not a JSON object")
    return document


def read_json_lines(path: Path | str, what: str | None = None, max_bytes: int = MAX_BYTES) -> list[Any]:
    """Each non-empty line of a JSON-lines file, bounded; a line that is not JSON names its number."""
    name = what or str(path)
    text = read_bytes(path, name, max_bytes)
    documents = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            documents.append(parse_json(line, f"{name}:{number}", max_bytes=max_bytes))
    return documents
