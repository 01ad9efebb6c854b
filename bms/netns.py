"""Keeping multicast on this machine: the udp_multicast bus is only opened where no frame,
and no group-membership report, can leave the host.

A network namespace whose only interface is loopback is safe by construction (`./run`
creates one when it can). Elsewhere the user must say so explicitly with BMS_NETNS=host
(``./run`` does that itself when it cannot isolate): joining a multicast group sends IGMP
reports on the default interface even with hop_limit 0.
"""

from __future__ import annotations

import os
import socket

ENVIRONMENT_VARIABLE = "BMS_NETNS"
HOST_NETWORK = "host"


LOCAL_ONLY_INTERFACES = ("lo", "vcan", "vxcan")  # virtual CAN never leaves the machine


def only_loopback_network() -> bool:
    """True when this process's network namespace has no interface but loopback (and virtual
    CAN interfaces, which cannot carry anything off the machine either)."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return False
    return all(name == "lo" or name.startswith(LOCAL_ONLY_INTERFACES[1:]) for name in names)


def host_network_allowed() -> bool:
    return os.environ.get(ENVIRONMENT_VARIABLE) == HOST_NETWORK


def multicast_refusal() -> str | None:
    """Why multicast must not be opened here, or None when it may."""
    if only_loopback_network() or host_network_allowed():
        return None
    return ("udp_multicast outside a loopback-only network namespace would announce its group "
            "on this machine's network: start it through ./run (which isolates it), or set "
            f"{ENVIRONMENT_VARIABLE}={HOST_NETWORK} to accept that")
