"""TLS probe: the certificate an https endpoint presents, and how long it stays valid."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from golive.masking import mask_url
from golive.probes.errors import ProbeError

_HTTPS_PORT = 443


@dataclass(frozen=True)
class Certificate:
    """The leaf certificate an endpoint presented."""

    endpoint: str  # host:port
    subject: str
    not_after: datetime  # UTC

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400


def endpoint(url: str) -> tuple[str, int]:
    """(host, port) of an https URL."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ProbeError("http", mask_url(url), "not an https URL")
    return parts.hostname, parts.port or _HTTPS_PORT


def certificate(url: str, timeout_s: float, verify: bool = True) -> Certificate:
    """The leaf certificate of an https URL, read in one handshake bounded by timeout_s.

    With ``verify`` the chain and host name are checked against the system's trust store, and a certificate
    that fails them raises ProbeError saying why; without it the certificate is read as presented.
    """
    from cryptography import x509

    host, port = endpoint(url)
    where = f"{host}:{port}"
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise ProbeError("http", where, f"certificate not trusted: {exc.verify_message}") from None
    except TimeoutError:
        raise ProbeError("http", where, f"no TLS handshake within {timeout_s:g}s") from None
    except (ssl.SSLError, OSError) as exc:
        raise ProbeError("http", where, f"TLS handshake failed: {type(exc).__name__}: {exc}") from None
    if not der:
        raise ProbeError("http", where, "the server presented no certificate")
    try:
        parsed = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise ProbeError("http", where, f"unreadable certificate: {exc}") from None
    return Certificate(endpoint=where, subject=parsed.subject.rfc4514_string(), not_after=parsed.not_valid_after_utc)
