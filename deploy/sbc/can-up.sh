#!/bin/sh
# Bring a SocketCAN interface up for the BMS: can-up.sh [IFACE] [BITRATE] [RESTART_MS]
# Defaults: can0, 500000 bit/s, automatic bus-off recovery after 100 ms. Idempotent: an
# interface that is already up is taken down and set again (the bitrate can only change
# while it is down). A longer transmit queue than the drivers' default of 10 frames keeps a
# slave's burst of cell frames from failing with ENOBUFS.
set -eu
iface="${1:-can0}"
bitrate="${2:-500000}"
restart_ms="${3:-100}"
txqueuelen="${CAN_TXQUEUELEN:-128}"

if ! ip link show "$iface" >/dev/null 2>&1; then
    echo "can-up: no interface $iface: is the driver loaded (MCP2515 overlay, gs_usb, slcan)?" >&2
    exit 1
fi
ip link set "$iface" down
ip link set "$iface" txqueuelen "$txqueuelen"
ip link set "$iface" up type can bitrate "$bitrate" restart-ms "$restart_ms"
echo "can-up: $iface up at $bitrate bit/s, restart-ms $restart_ms, txqueuelen $txqueuelen"
