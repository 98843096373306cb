"""Outbound HTTP to customer-supplied URLs without server-side request forgery.

- `validate_public_url(url)`: http(s) only, no userinfo, every A/AAAA address of the host public (unless
  WEBHOOK_ALLOW_PRIVATE_TARGETS). An unresolvable host fails closed.
- `safe_session()`: a requests Session whose connections check the *connected* peer address again, after
  the TCP connect and before a byte is sent, so DNS rebinding between validation and use cannot reach an
  internal address. Redirects are never followed; every call has a timeout.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["UnsafeTargetError", "validate_public_url", "safe_session", "is_public_address", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = (2, 10)


class UnsafeTargetError(ValueError):
    """The URL points at (or resolves to) an address the portal must not call."""


def _private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False))


# IPv6 ranges that carry or translate to an IPv4 address (6to4, Teredo, NAT64, IPv4-compatible, SIIT): a
# relay or translator on the path can turn them into any IPv4 address, private ones included. Never a target.
_IPV4_TRANSLATION_RANGES = tuple(ipaddress.ip_network(net) for net in (
    "2002::/16",        # 6to4 (RFC 3056)
    "2001::/32",        # Teredo (RFC 4380)
    "64:ff9b::/96",     # NAT64 well-known prefix (RFC 6052)
    "64:ff9b:1::/48",   # local-use NAT64 (RFC 8215)
    "::/96",            # IPv4-compatible (deprecated, RFC 4291)
    "::ffff:0:0:0/96",  # SIIT IPv4-translated (RFC 2765)
    "100::/64",         # discard-only
))


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif any(ip in net for net in _IPV4_TRANSLATION_RANGES):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTargetError(f"The host {host!r} does not resolve.") from exc
    return sorted({info[4][0] for info in infos})


def validate_public_url(url: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeTargetError("Only http:// and https:// URLs with a host name are allowed.")
    if parts.username or parts.password:
        raise UnsafeTargetError("The URL may not contain a user name or password.")
    if parts.scheme == "http" and not _private_allowed():
        raise UnsafeTargetError("Use an https:// URL.")
    if _private_allowed():
        return url
    addresses = resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    blocked = [a for a in addresses if not is_public_address(a)]
    if blocked or not addresses:
        raise UnsafeTargetError("The URL resolves to a private, loopback or reserved address, which is not allowed.")
    return url


class _PeerCheckingMixin:
    def _new_conn(self):
        sock = super()._new_conn()
        if not _private_allowed():
            peer = sock.getpeername()[0]
            if not is_public_address(peer):
                sock.close()
                raise UnsafeTargetError("Connection to a private, loopback or reserved address refused.")
        return sock


class _SafeHTTPConnection(_PeerCheckingMixin, HTTPConnection):
    pass


class _SafeHTTPSConnection(_PeerCheckingMixin, HTTPSConnection):
    pass


class _SafeHTTPPool(HTTPConnectionPool):
    ConnectionCls = _SafeHTTPConnection


class _SafeHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _SafeHTTPSConnection


class _SafeAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _SafeHTTPPool, "https": _SafeHTTPSPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def safe_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never pick up proxies or netrc credentials from the environment
    adapter = _SafeAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
