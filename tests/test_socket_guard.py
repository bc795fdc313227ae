"""The guard that proves nothing is sent anywhere must itself work."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkAccessError


def test_connect_to_public_address_is_refused() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkAccessError):
            s.connect(("192.0.2.1", 80))
    finally:
        s.close()


def test_dns_lookup_is_refused() -> None:
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("example.com", 443)
