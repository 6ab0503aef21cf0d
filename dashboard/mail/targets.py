"""Which addresses LeadSync may open an IMAP or SMTP connection to.

Mailbox settings name a server, so without a rule a user could make LeadSync knock on any
machine its host can reach: the cloud's metadata service, the office router, the database
next door. The rule, on the address a name resolved to (IPv4 inside IPv6 unwrapped first):

- never: link-local (169.254/16, fe80::/10, where cloud metadata services live), the known
  metadata addresses, "this network" (0/8), unspecified, multicast, reserved and every other
  address that is not globally routable (documentation and benchmark ranges...);
- only when the company allows servers on the local network: loopback, private ranges
  (10/8, 172.16/12, 192.168/16, fc00::/7) and shared address space (100.64/10);
- any other (public) address.

The name is resolved once and the connection goes to an address this rule accepted, so a
name that answers differently a moment later (DNS rebinding) cannot slip past it. Standard
library only; no Flask, no database.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from enum import StrEnum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Reach(StrEnum):
    """What an address is, for the connection rule."""

    PUBLIC = "public"
    LOCAL = "local"  # this machine or the local network: allowed by a company setting
    FORBIDDEN = "forbidden"  # never


LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
        "::1/128", "fc00::/7",
    )
)  # fmt: skip
# Metadata services outside link-local: AWS over IPv6 (inside fc00::/7), Alibaba (in 100.64/10).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.x.x.x to this machine
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(OSError):
    """The server's name resolved only to addresses the rule refuses."""

    def __init__(self, host: str, reach: Reach) -> None:
        # The resolved address is left out on purpose: it would tell a user what an internal
        # name resolves to.
        super().__init__(f"{host}: address not allowed ({reach})")
        self.reach = reach


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def classify(address: IPAddress) -> Reach:
    """Whether an address is public, local (allowed by a setting) or never to be reached."""
    address = embedded_ipv4(address)
    if address in METADATA_ADDRESSES or address in THIS_NETWORK:
        return Reach.FORBIDDEN
    if any(address in network for network in LOCAL_NETWORKS if network.version == address.version):
        return Reach.LOCAL
    return Reach.PUBLIC if address.is_global and not address.is_multicast else Reach.FORBIDDEN


def is_allowed(reach: Reach, *, allow_local: bool) -> bool:
    """Whether an address of this kind may be connected to."""
    return reach == Reach.PUBLIC or (reach == Reach.LOCAL and allow_local)


def choose_addresses(host: str, found: Iterable[str], *, allow_local: bool) -> list[str]:
    """The resolved addresses the rule accepts, in resolver order; RefusedAddress when none.

    The refusal names the most forgiving kind met: "local" tells the admin a setting would
    allow it, "forbidden" that nothing will."""
    allowed: list[str] = []
    refused: list[Reach] = []
    for text in found:
        reach = classify(ipaddress.ip_address(text.split("%", 1)[0]))
        if not is_allowed(reach, allow_local=allow_local):
            refused.append(reach)
        elif text not in allowed:
            allowed.append(text)
    if not allowed:
        raise RefusedAddress(host, Reach.LOCAL if Reach.LOCAL in refused else Reach.FORBIDDEN)
    return allowed


def resolve(host: str, port: int, *, allow_local: bool) -> list[str]:
    """Resolve a server name once and return the addresses it may be reached at (a literal
    address is checked as is). socket.gaierror when the name is unknown."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    return choose_addresses(host, (str(info[4][0]) for info in infos), allow_local=allow_local)


def open_socket(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """Connect to the first checked address that answers (as socket.create_connection does
    with a name, but never resolving again)."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")
