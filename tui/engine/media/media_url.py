"""Which video URLs may be fetched: a URL comes from a server, so it is hostile until checked.

Only ``https``, plus plain ``http`` to a loopback origin the caller names (the
local simulator).  Never link-local or cloud metadata addresses, whether
written literally or reached through what a host name resolves to; never this
computer unless allowed; no credentials, control characters, spaces or absurd
lengths.  The downloader checks every redirect hop again with the same policy.

Private ranges (10/8, 192.168/16, 100.64/10) stay allowed: on Alibaba Cloud
the vendor's storage resolves to such internal addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 8192  # signed CDN URLs run to a few hundred characters; beyond this is absurd
DEFAULT_PORTS = {"http": 80, "https": 443}
METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.tencentyun.com",
})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (legacy)
    "168.63.129.16",  # Azure wire server
    "fd00:ec2::254",  # AWS over IPv6
))
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValueError):
    """Our policy will not fetch this URL; the message is one sentence."""


class HostNotFound(OSError):
    """The host name did not resolve (a network problem, worth retrying)."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class MediaUrl:
    url: str
    origin: Origin
    literal: Address | None  # the host, when it is an IP address


def loopback_origin(base_url: str) -> str | None:
    """The origin of ``base_url`` if it is on this computer (the simulator), else None."""
    try:
        origin = _origin(base_url)
    except ValueError:
        return None
    return str(origin) if _is_loopback_host(origin.host) else None


class UrlPolicy:
    """Checks URLs, and the addresses their hosts resolve to, before anything connects."""

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        allowed = set()
        for text in allowed_origins:
            origin = _origin(text)
            if not _is_loopback_host(origin.host):
                raise ValueError(f"allowed origin {text!r} is not on this computer")
            allowed.add(origin)
        self.allowed = frozenset(allowed)

    def check(self, url: str) -> MediaUrl:
        """The parsed URL, or ``UrlRefused``; no network."""
        if len(url) > MAX_URL:
            raise UrlRefused(f"the video URL is absurdly long ({len(url)} characters)")
        for ch in url:
            kind = unicodedata.category(ch)
            if kind in ("Cc", "Cf"):
                raise UrlRefused("the video URL contains a control character")
            if kind in ("Zs", "Zl", "Zp"):
                raise UrlRefused("the video URL contains a space")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UrlRefused("the video URL is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise UrlRefused("the video URL is not an https URL")
        if "@" in parts.netloc:
            raise UrlRefused("the video URL carries a user name or password")
        host = _clean_host(parts.hostname or "")
        literal = _literal(host)
        origin = Origin(scheme, host, port if port is not None else DEFAULT_PORTS[scheme])
        if _as_httpx_sees_it(url) != origin:
            raise UrlRefused("the video URL is ambiguous (its host reads two ways)")
        media = MediaUrl(url, origin, literal)
        if origin in self.allowed:
            return media
        if scheme != "https" and _is_loopback_host(host):
            raise UrlRefused(f"the video URL points at a simulator on this computer "
                             f"({host}:{origin.port}) that is not the one in use — it is gone "
                             "or was restarted, and its videos with it")
        if scheme != "https":
            raise UrlRefused(f"the video URL is plain http to {host}; only https is fetched")
        if host in METADATA_NAMES or host.endswith(".internal"):
            raise UrlRefused(f"the video URL points at {host}, a cloud metadata service")
        if host == "localhost" or host.endswith(".localhost"):
            raise UrlRefused("the video URL points at this computer")
        if literal is not None and (problem := address_problem(literal)):
            raise UrlRefused(f"the video URL points at {problem}")
        return media

    async def vet(self, media: MediaUrl) -> None:
        """Resolve the host and refuse if any address it gives is forbidden."""
        if media.literal is not None:
            return  # checked by ``check``
        origin = media.origin
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                origin.host, origin.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise HostNotFound(f"could not find the video server {origin.host}") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]))
            if origin in self.allowed:
                if not _unmapped(address).is_loopback:
                    raise UrlRefused(f"{origin.host} resolves to an address off this computer")
            elif problem := address_problem(address):
                raise UrlRefused(f"the video host {origin.host} resolves to {problem}")


def address_problem(address: Address) -> str | None:
    """Why we will not connect to this address, or None."""
    address = _unmapped(address)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_link_local:
        return "a link-local address"
    if address.is_loopback:
        return "this computer"
    if address.is_unspecified or address.is_multicast or address.is_reserved or (
            isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
                "255.255.255.255")):
        return "an address no video server has"
    return None


def _unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def _clean_host(host: str) -> str:
    """The host in lower-case ASCII, or ``UrlRefused``."""
    if not host:
        raise UrlRefused("the video URL has no host")
    if _literal(host) is not None:
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise UrlRefused("the video URL's host name is not valid") from None
    ascii_host = ascii_host.lower().rstrip(".")
    if not ascii_host or len(ascii_host) > 253 or not set(ascii_host) <= _HOST_CHARS:
        raise UrlRefused("the video URL's host name is not valid")
    return ascii_host


def _as_httpx_sees_it(url: str) -> Origin | None:
    """The origin the HTTP client will connect to: a second parser must agree with ours."""
    import httpx  # (loaded by the first request anyway: this runs just before one)

    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, UnicodeError):
        return None
    scheme = parsed.scheme.lower()
    return Origin(scheme, host, parsed.port or DEFAULT_PORTS.get(scheme, 0))


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _origin(url: str) -> Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) origin")
    port = parts.port
    return Origin(scheme, parts.hostname.lower(), port if port is not None else
                  DEFAULT_PORTS[scheme])


def _is_loopback_host(host: str) -> bool:
    literal = _literal(host)
    if literal is None:
        return host == "localhost"
    return _unmapped(literal).is_loopback
