"""HAProxy's runtime API over its admin socket (``stats socket`` in haproxy.cfg): the one client of it, used by
golive's load-balancer probe and by the sandbox.

``command`` sends one command and reads the whole answer, bounded in time and in size. It judges nothing: each
caller reads the answers its own way. golive is read-only against its targets, so its probe sends only the
commands ``is_read_only`` accepts (``show ...``, ``get ...``); only the sandbox's fault and cutover helpers send
the commands that change HAProxy (``set server ... weight``, ``enable health``/``disable health``).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

MAX_ANSWER_BYTES = 4 * 1024 * 1024
READ_ONLY_PREFIXES = ("show ", "get ")


class AnswerTooLarge(OSError):
    """The answer went on past MAX_ANSWER_BYTES."""


def is_read_only(text: str) -> bool:
    """Whether a runtime API command only reads (``show stat``, ``get weight be/blue``)."""
    return text.strip().startswith(READ_ONLY_PREFIXES)


def command(socket_path: str | Path, text: str, timeout_s: float) -> str:
    """The answer to one command. Connecting, sending and the whole read are bounded by ``timeout_s``.

    Raises TimeoutError when there is no (complete) answer in time, AnswerTooLarge past MAX_ANSWER_BYTES, and
    another OSError when the socket cannot be reached.
    """
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    received = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(socket_path))
        sock.sendall(text.encode() + b"\n")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer within {timeout_s:g}s")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            if received > MAX_ANSWER_BYTES:
                raise AnswerTooLarge(f"answer over {MAX_ANSWER_BYTES // (1024 * 1024)} MiB")
    return b"".join(chunks).decode(errors="replace")
