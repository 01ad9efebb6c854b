#!/bin/sh
# Create and bring up virtual CAN interfaces on the host (the container runs privileged on
# the host network). Idempotent: an interface that exists is only set up.
set -eu
modprobe vcan 2>/dev/null || true  # the host usually loads it: sudo modprobe vcan
for bus in "$@"; do
    ip link show "$bus" >/dev/null 2>&1 || ip link add dev "$bus" type vcan
    ip link set "$bus" up
    echo "setup-vcan: $bus up"
done
