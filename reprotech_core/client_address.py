"""The address of the client behind the hub's proxies, for sign-in lock-outs.

JupyterHub starts tornado with ``xheaders=True``, which makes ``request.remote_ip`` whatever a
client writes in ``X-Real-Ip`` (or the last ``X-Forwarded-For`` entry when the hub is reached
directly): a password sprayer could rotate it and never reach the per-address limit. This
module decides the address from what cannot be forged instead:

* the socket peer (tornado keeps it in ``request.connection.context.address``, untouched by
  ``xheaders``);
* ``X-Forwarded-For`` entries appended by proxies we trust. configurable-http-proxy 5.3 (through
  http-proxy-3's ``xfwd``, on by default) appends the address *it* saw to whatever the client
  sent, so the right-most entry is written by the proxy and every entry to its left may be the
  client's own invention. ``X-Real-Ip`` is passed through untouched by the proxy and is
  therefore never read.

The rule is the usual right-to-left walk (as in nginx's ``real_ip_recursive``): start at the
socket peer; while the address we hold is a trusted proxy, step to the entry that proxy
appended; the first address that is not a trusted proxy is the client. The socket peer is
trusted when it is on loopback (the hub's own proxy) or in setting ``hub_trusted_proxies``;
entries of the header are trusted only when they are in ``hub_trusted_proxies``, so a client
on this machine is itself, not a proxy, unless the operator says otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                  ipaddress.ip_network("::1/128"))
"""Where the hub's own configurable-http-proxy connects from."""


def parse_networks(entries: Iterable[str], *, setting: str = "hub_trusted_proxies"
                   ) -> tuple[Network, ...]:
    """Addresses or CIDR networks (``10.0.0.5``, ``10.0.0.0/8``, ``fd00::/8``) as networks.

    Raises ``ValueError`` naming the setting, the position and the entry that is neither.
    """
    networks = []
    for position, entry in enumerate(entries):
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"setting {setting}, entry {position + 1} ({entry!r}): not an IP address or "
                "CIDR network such as 10.0.0.5 or 10.0.0.0/8"
            ) from None
    return tuple(networks)


def client_address(peer: str | None, forwarded_for: Sequence[str],
                   trusted_proxies: Sequence[Network] = ()) -> str | None:
    """The client's address: the first untrusted hop walking back from the socket peer.

    ``peer`` is the socket's remote address (``None`` for a Unix socket, which only a local
    process can reach: treated as the hub's own proxy); ``forwarded_for`` the values of every
    ``X-Forwarded-For`` header in the order received; ``trusted_proxies`` the configured proxies
    in front of the hub's own. An entry a trusted proxy appended that is not an address ends the
    walk at that proxy: the lock-out then falls on the proxy, never on a value a client chose.
    """
    current: Address | None = None
    if peer is not None:
        current = _address(peer)
        if current is None:
            return peer.strip()
        if not _within(current, LOOPBACK + tuple(trusted_proxies)):
            return str(current)
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        appended = _address(hop)
        if appended is None:
            break
        current = appended
        if not _within(current, trusted_proxies):
            break
    return None if current is None else str(current)


def _address(text: str) -> Address | None:
    """An IP address, with IPv4-mapped IPv6 (Node's ``::ffff:1.2.3.4``) as plain IPv4."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)
