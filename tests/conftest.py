"""Shared fixtures; gating of the multi-process tests to a private network namespace."""

from __future__ import annotations

import socket

import pytest

from bms.compiled import use_build

use_build()  # the compiled build where it is fresh (BMS_PURE_PYTHON=1: plain), before any test

from bms.netns import host_network_allowed, only_loopback_network  # noqa: E402


def multiprocess_allowed() -> tuple[bool, str]:
    if only_loopback_network():
        return True, ""
    if host_network_allowed():
        return True, ""
    return False, ("multi-process tests send multicast frames; run them with `./run test` "
                   "(private network namespace) or set BMS_NETNS=host to run them on this host")


VCAN_INTERFACES = ("vcan0", "vcan1", "vcan2")


def vcan_available() -> tuple[bool, str]:
    names = {name for _, name in socket.if_nameindex()}
    missing = [name for name in VCAN_INTERFACES if name not in names]
    if not missing:
        return True, ""
    return False, (f"no {', '.join(missing)} here: `./run test` runs this group on a host with "
                   "the vcan module, or in the guest kernel of ../shared/vcan-vm; by hand: "
                   "`ip link add dev vcan0 type vcan && ip link set vcan0 up` (and vcan1, "
                   "vcan2), then `pytest -m vcan`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, (allowed, reason) in (("multiprocess", multiprocess_allowed()),
                                      ("vcan", vcan_available())):
        if allowed:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
