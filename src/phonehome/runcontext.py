"""The run's :class:`~phonehome.context.Context` from the options every command that reads
captures shares: which host is the device (``--device-ip``, ``--device-mac``) and the WPA
keys (``--wifi-key``).

One function for ``scan``, ``flows``, ``export``, ``watch`` and corpus tasks, so a bad
value is refused in the same words everywhere (a :class:`UsageError`, one line); the
library's callers do not import the command line to get it.
"""

from __future__ import annotations

from phonehome.context import Context, DeviceSelector
from phonehome.errors import UsageError


def run_context(
    device_ips: tuple[str, ...] = (),
    device_macs: tuple[str, ...] = (),
    wifi_keys: tuple[str, ...] = (),
) -> Context:
    """A fresh context with the device selected and the Wi-Fi keys derived (a key is a
    secret: an error says which one is bad, never what it is)."""
    from phonehome.net.addr import parse_ip, parse_mac

    try:
        ips = frozenset(parse_ip(s) for s in device_ips)
        macs = frozenset(parse_mac(s) for s in device_macs)
    except ValueError as e:
        raise UsageError(f"bad --device-ip/--device-mac value: {e}") from None
    ctx = Context(device=DeviceSelector(ips=ips, macs=macs))
    if wifi_keys:
        from phonehome.decrypt.wpa import BadWifiKey, wifi_keys_of

        try:
            ctx.wifi = wifi_keys_of(wifi_keys)
        except BadWifiKey as e:
            raise UsageError(str(e)) from None
    return ctx
