"""Shared fixtures; gating of the multi-process tests to a private network namespace."""

from __future__ import annotations

import pytest

from bms.netns import host_network_allowed, only_loopback_network


def multiprocess_allowed() -> tuple[bool, str]:
    if only_loopback_network():
        return True, ""
    if host_network_allowed():
        return True, ""
    return False, ("multi-process tests send multicast frames; run them with `./run test` "
                   "(private network namespace) or set BMS_NETNS=host to run them on this host")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    allowed, reason = multiprocess_allowed()
    if allowed:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "multiprocess" in item.keywords:
            item.add_marker(skip)
