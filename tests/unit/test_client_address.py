"""The client address for sign-in lock-outs comes only from the socket and trusted proxies
(reprotech_core.client_address): forged ``X-Real-Ip`` / ``X-Forwarded-For`` never move it."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprotech_core.client_address import client_address, parse_networks

ADDRESSES = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
JUNK = st.text(alphabet=st.characters(codec="ascii", exclude_characters=","), max_size=40)
FORGED = st.lists(st.one_of(ADDRESSES, JUNK), max_size=6)
EDGE = parse_networks(["203.0.113.0/24", "2001:db8:1::/48"])
EDGE_PROXIES = st.sampled_from(["203.0.113.7", "203.0.113.250", "2001:db8:1::9"])


def canonical(address: str) -> str:
    """How the function names an address (IPv4-mapped IPv6 as IPv4, as Node writes it)."""
    parsed = ipaddress.ip_address(address)
    return str(getattr(parsed, "ipv4_mapped", None) or parsed)


def outside(*networks):
    return lambda a: not any(ipaddress.ip_address(canonical(a)) in n for n in networks
                             if ipaddress.ip_address(canonical(a)).version == n.version)


LOOPBACK = parse_networks(["127.0.0.0/8", "::1"])


@given(client=ADDRESSES.filter(outside(*LOOPBACK, *EDGE)), forged=FORGED)
def test_a_client_reaching_the_hub_directly_is_its_socket_address(client, forged) -> None:
    """Whatever it writes in X-Forwarded-For (tornado's xheaders would take the last entry)."""
    assert client_address(client, [", ".join(forged)]) == canonical(client)
    assert client_address(client, [", ".join(forged)], EDGE) == canonical(client)


@given(client=ADDRESSES, forged=FORGED)
def test_entries_a_client_prepends_before_our_proxy_are_ignored(client, forged) -> None:
    """configurable-http-proxy appends the peer it saw; the client's own list stays left."""
    header = ",".join([*forged, client])  # exactly what http-proxy-3's xfwd passes on
    assert client_address("127.0.0.1", [header]) == canonical(client)


@given(forged=FORGED)
def test_a_local_client_through_our_proxy_is_loopback_not_what_it_claims(forged) -> None:
    """Loopback is trusted as the hub's own proxy (the socket peer), not as a hop in the
    header: a client on 127.0.0.1 behind the proxy is 127.0.0.1, whatever it prepends."""
    header = ",".join([*forged, "127.0.0.1"])
    assert client_address("127.0.0.1", [header]) == "127.0.0.1"
    assert client_address("::1", [header, "::ffff:127.0.0.1"]) == "127.0.0.1"


@given(client=ADDRESSES.filter(outside(*EDGE)), forged=FORGED,
       chain=st.lists(EDGE_PROXIES, min_size=1, max_size=3))
def test_a_trusted_chain_is_walked_to_the_first_untrusted_hop(client, forged, chain) -> None:
    """TLS terminators in hub_trusted_proxies in front of our proxy: each appends its peer
    (client -> chain[0] -> ... -> chain[-1] -> our proxy -> hub); the first address from the
    right outside the trusted set is the client, whatever the client wrote before it."""
    header = ",".join([*forged, client, *chain])
    assert client_address("127.0.0.1", [header], EDGE) == canonical(client)
    # The same chain reaching the hub without our proxy in between.
    assert client_address(chain[-1], [",".join([*forged, client, *chain[:-1]])],
                          EDGE) == canonical(client)


def test_several_forwarded_for_headers_count_in_the_order_received() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1", "192.0.2.9, 192.0.2.10"]) == \
        "192.0.2.10"


def test_without_a_forwarded_header_the_client_is_the_peer() -> None:
    """X-Real-Ip is not even an input: the hub passes the peer and X-Forwarded-For only."""
    assert client_address("127.0.0.1", []) == "127.0.0.1"
    assert client_address("192.0.2.44", []) == "192.0.2.44"


def test_an_untrusted_hop_stops_the_walk_even_inside_the_header() -> None:
    """Only configured proxies are skipped: a forged 203.0.113.x to the left of an untrusted
    hop is never reached."""
    assert client_address("127.0.0.1", ["203.0.113.1, 192.0.2.5, 203.0.113.7"], EDGE) == \
        "192.0.2.5"


def test_a_malformed_entry_from_a_trusted_proxy_falls_back_to_that_proxy() -> None:
    assert client_address("127.0.0.1", ["<script>, 203.0.113.7, not-an-ip"], EDGE) == \
        "127.0.0.1"
    assert client_address("127.0.0.1", ["not-an-ip, 203.0.113.7"], EDGE) == "203.0.113.7"


def test_a_unix_socket_peer_is_treated_as_our_own_proxy() -> None:
    assert client_address(None, ["10.1.2.3, 192.0.2.8"]) == "192.0.2.8"
    assert client_address(None, []) is None


@pytest.mark.parametrize("entries, message", [
    (["10.0.0.0/8", "proxy.example"], r"entry 2 \('proxy.example'\)"),
    (["10.0.0.300"], r"entry 1 \('10.0.0.300'\)"),
])
def test_bad_trusted_proxy_entries_are_named(entries, message) -> None:
    with pytest.raises(ValueError, match=rf"setting hub_trusted_proxies, {message}"):
        parse_networks(entries)


def test_the_hub_authenticator_refuses_to_start_with_a_bad_trusted_proxy() -> None:
    from hub.auth import ReprotechAuthenticator

    with pytest.raises(ValueError, match=r"entry 2 \('proxy.local'\)"):
        ReprotechAuthenticator(trusted_proxies=["10.0.0.0/8", "proxy.local"])
    assert ReprotechAuthenticator(trusted_proxies=["10.0.0.0/8"])._trusted_networks == \
        parse_networks(["10.0.0.0/8"])


def test_the_hub_trusts_its_own_machine_address_as_its_proxy() -> None:
    """With the hub API on a machine address (several hosts), the hub's proxy connects from
    that address: it is the hub's own proxy, not a client to lock out (issue 19)."""
    from hub.auth import own_proxy_sources
    from reprotech_core.settings import PROJECT_HOME, Settings

    def sources(**values):
        return own_proxy_sources(Settings(home=PROJECT_HOME, **values))

    assert sources() == [] and sources(hub_api_bind="0.0.0.0") == []
    assert sources(hub_api_bind="127.0.0.4") == []  # loopback is trusted anyway
    assert sources(hub_api_bind="10.1.0.4") == ["10.1.0.4"]
    assert sources(hub_api_bind="hub.internal") == []
