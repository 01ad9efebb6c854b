"""`bms inject ...`: faults and requests for a running virtual pack, on its simulation bus.

Every command sends one frame of dbc/sim.dbc and exits; the simulated slaves, HV box and
VCU act on it. A duration of 0 (the default) lasts until cleared or resumed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bms.cli_common import add_config_arguments, load_or_explain

SLAVE_ACTIONS = ("stop", "freeze", "kill", "bad-crc", "stuck-counter", "afe-fault", "alternate",
                 "noisy-replay", "resume")
CHARGER_FLAGS = ("none", "hardware-failure", "over-temperature", "input-voltage-wrong",
                 "battery-not-detected", "communication-timeout")
SENSOR_ACTIONS = ("silence", "flag-over-current", "flag-channel-error", "flag-system-error",
                  "offset-voltage", "resume")
CONTACTORS = ("main-plus", "main-minus", "precharge")
CONTACTOR_FAULTS = ("welded", "fails-to-close", "repaired")


def _enum_name(text: str) -> str:
    return text.replace("-", "_").upper()


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inject", help="inject a fault into a running virtual pack (simulation bus)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)

    def kind(name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = kinds.add_parser(name, help=help_text,
                                                        description=help_text)
        add_config_arguments(sub)
        sub.add_argument("--duration", type=float, default=0.0, metavar="S",
                         help="seconds it lasts (default 0: until cleared)")
        return sub

    voltage = kind("cell-voltage", "force what a slave's AFE reads for one cell")
    voltage.add_argument("--module", type=int, required=True)
    voltage.add_argument("--cell", type=int, required=True)
    voltage.add_argument("--mv", type=float, required=True, help="forced reading in mV")
    temperature = kind("cell-temperature", "force what a slave reads for one sensor")
    temperature.add_argument("--module", type=int, required=True)
    temperature.add_argument("--sensor", type=int, required=True)
    temperature.add_argument("--degc", type=float, required=True)
    invalid = kind("cell-invalid", "make one cell read invalid (as an open sense wire)")
    invalid.add_argument("--module", type=int, required=True)
    invalid.add_argument("--cell", type=int, required=True)
    clear = kind("clear-cell", "stop forcing a cell (and the sensor of the same index)")
    clear.add_argument("--module", type=int, required=True)
    clear.add_argument("--cell", type=int, required=True)
    slave = kind("slave", "make a slave stop sending, freeze, die, corrupt its CRC, "
                          "repeat its alive counter, report an AFE fault, send its forced "
                          "readings (cell-voltage ...) only in every other measurement "
                          "(alternate), or replay its readings with fresh noise "
                          "(noisy-replay)")
    slave.add_argument("--module", type=int, required=True)
    slave.add_argument("action", choices=SLAVE_ACTIONS)
    sensor = kind("sensor", "silence the current sensor or set its error flags")
    sensor.add_argument("action", choices=SENSOR_ACTIONS)
    sensor.add_argument("--volts", type=float, default=0.0,
                        help="with offset-voltage: how far U1 reads off")
    contactor = kind("contactor", "weld a contactor or make it fail to close")
    contactor.add_argument("contactor", choices=CONTACTORS)
    contactor.add_argument("fault", choices=CONTACTOR_FAULTS)
    current = kind("current", "draw this pack current while the contactors are closed "
                              "(overrides the VCU's load; also drains the DC link while "
                              "precharging)")
    current.add_argument("--amps", type=float, required=True, help="positive charges")
    charger = kind("charger", "set the simulated charger's status flags (none clears them)")
    charger.add_argument("flags", nargs="+", choices=CHARGER_FLAGS)
    vcu = kind("vcu", "steer the simulated VCU")
    vcu.add_argument("--request", choices=("standby", "drive", "charge"))
    vcu.add_argument("--reset", action="store_true", help="send a fault-reset request")
    vcu.add_argument("--service-reset", action="store_true",
                     help="also clear latched faults (deep discharge)")
    vcu.add_argument("--silence", type=float, default=0.0, metavar="S",
                     help="stop the VCU heartbeat for S seconds")
    parser.set_defaults(run=run)


def build_frame(args: argparse.Namespace) -> Any:
    from dbc.sim_frames import (
        CellQuantity,
        ContactorFault,
        ContactorId,
        InjectCell,
        InjectCharger,
        InjectContactor,
        InjectCurrent,
        InjectSensor,
        InjectSlave,
        SensorFault,
        SlaveFault,
        VcuCommand,
        VcuCommandRequest,
    )

    duration = args.duration
    if args.kind == "cell-voltage":
        return InjectCell(args.module, args.cell, CellQuantity.VOLTAGE, args.mv, duration)
    if args.kind == "cell-temperature":
        return InjectCell(args.module, args.sensor, CellQuantity.TEMPERATURE, args.degc,
                          duration)
    if args.kind == "cell-invalid":
        return InjectCell(args.module, args.cell, CellQuantity.INVALID, 0.0, duration)
    if args.kind == "clear-cell":
        return InjectCell(args.module, args.cell, CellQuantity.CLEAR, 0.0, 0.0)
    if args.kind == "slave":
        return InjectSlave(args.module, SlaveFault[_enum_name(args.action)], duration)
    if args.kind == "sensor":
        return InjectSensor(SensorFault[_enum_name(args.action)], duration, args.volts)
    if args.kind == "contactor":
        fault = ContactorFault.NONE if args.fault == "repaired" else \
            ContactorFault[_enum_name(args.fault)]
        return InjectContactor(ContactorId[_enum_name(args.contactor)], fault, duration)
    if args.kind == "current":
        return InjectCurrent(args.amps, duration)
    if args.kind == "charger":
        from dbc.charger_frames import ChargerFlag

        flags = ChargerFlag.NONE
        for name in args.flags:
            if name != "none":
                flags |= ChargerFlag[_enum_name(name)]
        return InjectCharger(int(flags), duration)
    request = VcuCommandRequest[args.request.upper()] if args.request else VcuCommandRequest.KEEP
    return VcuCommand(request, args.reset, args.service_reset, args.silence)


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args)
    if settings is None:
        return 2
    module = getattr(args, "module", None)
    if module is not None and not 0 <= module < settings.pack.modules:
        print(f"--module {module}: must be 0..{settings.pack.modules - 1}", file=sys.stderr)
        return 2
    frame = build_frame(args)
    if args.check_config:
        print(f"would send {frame}")
        return 0
    return asyncio.run(send(settings, frame))


async def send(settings: Any, typed: Any) -> int:
    from bms.can_port import CanPort
    from bms.errors import BusError
    from bms.settings import bus_kwargs
    from dbc.codec import sim_codec

    try:
        async with CanPort(bus_kwargs(settings, "sim"), "sim/inject") as port:
            ok = port.send(sim_codec().encode(typed))
    except BusError as exc:
        print(f"cannot reach the simulation bus: {exc}", file=sys.stderr)
        return 1
    print(f"sent {typed}" if ok else f"could not send {typed}")
    return 0 if ok else 1
