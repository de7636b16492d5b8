"""Scanners' networks as salted hashes (pure). A raw IP address is never stored.

Counting distinct networks, not addresses, is what tells a cloned label (scanned all over the
country) from one shopper scanning twice; a /24 (IPv4) or /48 (IPv6) prefix is coarse enough to
say nothing about a person, and the salted hash cannot be reversed by enumerating prefixes
without the salt.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress

HASH_LENGTH = 32  # hex characters (128 bits)
UNKNOWN_NETWORK = "unknown"


def network_of(address: str | None) -> str:
    """The /24 (IPv4) or /48 (IPv6) prefix of an address, as text; 'unknown' when unparsable."""
    try:
        ip = ipaddress.ip_address((address or "").strip().split("%", 1)[0])
    except ValueError:
        return UNKNOWN_NETWORK
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def network_hash(address: str | None, salt: str) -> str:
    """The salted hash of an address's network (HMAC-SHA256, first 128 bits in hex)."""
    digest = hmac.new(salt.encode("utf-8"), network_of(address).encode("ascii"), hashlib.sha256).hexdigest()
    return digest[:HASH_LENGTH]
