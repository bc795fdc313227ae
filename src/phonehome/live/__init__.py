"""Live sources for ``phonehome watch``: what a phone sends, while it sends it.

One module per source, each a :class:`~.source.Source` that turns what it receives into
the pcap/pcapng byte streams the file readers already read (or, for the proxy, into the
messages the mitmproxy flow reader makes), so live traffic takes the same path through
the pipeline and the scan as a capture file. :mod:`.watch` is the scan that alerts and
saves as it goes; :mod:`.alerts` what it prints. Choosing a source is :data:`SOURCES`.
"""

from __future__ import annotations

import importlib
from typing import Any

from phonehome.live.source import Source

SOURCES: dict[str, tuple[str, str]] = {
    "udp": ("phonehome.live.udp", "UdpSource"),
    "tcp-listen": ("phonehome.live.tcp", "TcpListenSource"),
    "tcp-connect": ("phonehome.live.tcp", "TcpConnectSource"),
    "http": ("phonehome.live.http", "HttpSource"),
    "stdin": ("phonehome.live.stdin", "StdinSource"),
    "interface": ("phonehome.live.interface", "InterfaceSource"),
    "proxy": ("phonehome.live.proxy", "ProxySource"),
}
"""Source name (the ``watch`` option without its dashes) -> (module, class): a new
source is one module and one line here."""


def make_source(kind: str, spec: str, **options: Any) -> Source:
    """The source ``kind`` for ``spec`` (its option's value); ``options`` are the ones
    only that source takes (``bpf``, ``mode``, ``confdir``)."""
    module, name = SOURCES[kind]
    cls = getattr(importlib.import_module(module), name)
    source = cls(spec, **options)
    assert isinstance(source, Source)
    return source
