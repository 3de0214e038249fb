"""Guard for outbound HTTP calls (webhooks, remote model sources) against SSRF.

A URL a user hands the server must not make the server call itself, its cloud metadata
service or anything else on a private network. The host is checked as written *and*
as resolved (every address ``getaddrinfo`` returns), so numeric tricks such as
``http://2130706433``, ``http://0x7f000001``, ``http://127.1`` and names that resolve to
private addresses are all refused. Check again right before each call: DNS may change
between the check at creation time and the call; :func:`pin_url` then sends the request
to the address that was checked, so the name cannot be re-resolved in between.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from modelyard.core.errors import InvalidArgument

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_PRIVATE_HINT = (
    "An admin can allow private targets by setting MODELYARD_ALLOW_PRIVATE_WEBHOOKS=true on the server."
)
MAX_URL_LENGTH = 2000

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


@dataclass(frozen=True)
class OutboundTarget:
    """A checked URL: its host, port and the addresses it resolved to (empty when not resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...] = field(default=())


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_private_address(ip: IPAddress) -> bool:
    """True for any address that is not plainly public (private, loopback, link-local, ...)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and is_private_address(inner):
            return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, including legacy IPv4 forms (``127.1``, ``0x7f000001``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # inet_aton accepts the decimal, octal, hex and shortened forms browsers and
    # resolvers also accept; only try it on hosts made of number characters.
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    literal = _literal_address(host)
    if literal is not None:
        return (literal,)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidArgument(f"The host {host!r} could not be resolved: {exc}.") from exc
    found: list[IPAddress] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if addr not in found:
            found.append(addr)
    if not found:
        raise InvalidArgument(f"The host {host!r} did not resolve to any address.")
    return tuple(found)


def parse_outbound_url(url: str) -> OutboundTarget:
    """Split and sanity-check a URL: http(s) only, a host, no credentials, no control characters."""
    if not isinstance(url, str) or not url:
        raise InvalidArgument("The URL is empty; give an http:// or https:// URL.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(f"The URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url) or "\\" in url:
        raise InvalidArgument("The URL contains whitespace, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"The URL {url!r} is not valid: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidArgument(f"The URL scheme {parts.scheme!r} is not allowed; use http:// or https://.")
    if "@" in parts.netloc:
        raise InvalidArgument(
            "The URL contains credentials (user:password@host); remove them. Webhook requests are "
            "signed with the webhook secret instead."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidArgument(f"The URL {url!r} has no host.")
    return OutboundTarget(url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))


def resolve_outbound_url(url: str, *, allow_private: bool) -> OutboundTarget:
    """Check ``url`` like :func:`check_outbound_url` and return it with its checked addresses.

    With ``allow_private`` the host is not resolved and ``addresses`` is empty.
    """
    target = parse_outbound_url(url)
    if allow_private:
        return target
    addresses = _resolve(target.host, target.port)
    for addr in addresses:
        if is_private_address(addr):
            shown = target.host if str(addr) == target.host else f"{target.host} ({addr})"
            raise InvalidArgument(
                f"The URL's host {shown} is a private, loopback, link-local or otherwise non-public "
                f"address; outbound calls to it are refused. {ALLOW_PRIVATE_HINT}"
            )
    return OutboundTarget(
        url=url, scheme=target.scheme, host=target.host, port=target.port, addresses=addresses
    )


def check_outbound_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL the server must not call.

    Args:
        url: The URL a user supplied.
        allow_private: Skip the address checks (an admin allowed private targets).

    Raises:
        InvalidArgument: the scheme is not http(s), the URL holds credentials, the host
            cannot be resolved, or it is or resolves to a non-public address.
    """
    resolve_outbound_url(url, allow_private=allow_private)


def pin_url(target: OutboundTarget) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The URL, extra headers and httpx extensions that send a request to the checked address.

    The request goes to the first checked IP address; the ``Host`` header and the TLS server
    name (SNI, also used for certificate checks) stay the original host name. Without
    addresses (private targets allowed) the URL is returned unchanged.
    """
    url = httpx.URL(target.url)
    if not target.addresses:
        return url, {}, {}
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:  # an IPv6 literal keeps its brackets in the Host header
        host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url.copy_with(host=str(target.addresses[0])), {"Host": host_header}, extensions
