"""What a client's "network" is, in one place: an IPv4 /24 or an IPv6 /48 (pure). A raw IP address is never stored.

- Counting distinct networks, not addresses, is what tells a cloned label (scanned all over the
  country) from one shopper scanning twice; a /24 (IPv4) or /48 (IPv6) prefix is coarse enough to
  say nothing about a person, and the salted hash cannot be reversed by enumerating prefixes
  without the salt. The scan page's limit and the refused-token limit count networks too.
- Per-client limits (login attempts, API calls without a token) count `client_of`: an IPv4
  address (a NAT is already one address, and its neighbours are other clients), or an IPv6
  address's network, because one IPv6 subscriber holds a whole prefix to rotate through.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

HASH_LENGTH = 32  # hex characters (128 bits)
UNKNOWN_NETWORK = "unknown"
IPV4_PREFIX, IPV6_PREFIX = 24, 48


def _address(address: str | None):
    """The parsed address (IPv4-mapped IPv6 as IPv4), or None when unparsable."""
    try:
        ip = ipaddress.ip_address((address or "").strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


# Clients come back (a shopper scans several packages, a market hall shares one network): parsing the
# address and hashing its network cost more than the rest of counting a scan, so both are remembered
# for the most recent addresses of the process.
_RECENT = 8192


@lru_cache(maxsize=_RECENT)
def network_of(address: str | None) -> str:
    """The /24 (IPv4) or /48 (IPv6) prefix of an address, as text; 'unknown' when unparsable."""
    ip = _address(address)
    if ip is None:
        return UNKNOWN_NETWORK
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_of(address: str | None) -> str:
    """Who a per-client rate limit counts: the IPv4 address, or the IPv6 address's network (/48)."""
    ip = _address(address)
    if ip is None:
        return address or ""
    return str(ip) if ip.version == 4 else network_of(str(ip))


@lru_cache(maxsize=_RECENT)
def network_hash(address: str | None, salt: str) -> str:
    """The salted hash of an address's network (HMAC-SHA256, first 128 bits in hex)."""
    digest = hmac.new(salt.encode("utf-8"), network_of(address).encode("ascii"), hashlib.sha256).hexdigest()
    return digest[:HASH_LENGTH]
