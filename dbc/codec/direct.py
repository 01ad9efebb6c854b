"""The direct paths between typed frames and bytes, for the frames sent most often.

Every slave sends its cell voltages and temperatures every measurement period and its
status every status period: the general path (`Codec` through a dict of signals) costs
several times what these cost. Each is written from the frame's `MessageLayout` (so from
the DBC), and gives up (None: the general path) on a DBC it was not written for. Same
frames and bytes as the general path (tests compare them).
"""

from __future__ import annotations

from dbc.codec.arrays import Decoder, Encoder, compile_array_decoder, compile_array_encoder
from dbc.codec.layout import MessageLayout
from dbc.e2e import E2E_COUNTER_SIGNAL, E2E_CRC_SIGNAL
from dbc.frames import (
    MODULE_FAULT_BITS,
    MODULE_FAULT_SIGNALS,
    AfeState,
    CellTemperatures,
    CellVoltages,
    Frame,
    ModuleFault,
    ModuleStatus,
    physical,
)

# every signal of ModuleStatus: what its direct decoder and encoder are written for
_MODULE_STATUS_SIGNALS = frozenset({E2E_CRC_SIGNAL, E2E_COUNTER_SIGNAL, "AfeState",
                                    "BalancingCells", "ModuleVoltage",
                                    *MODULE_FAULT_SIGNALS.values()})
ARRAY_FRAMES: tuple[type[CellVoltages] | type[CellTemperatures], ...] = (
    CellVoltages, CellTemperatures)


def direct_decoder(frame_type: type[Frame], layout: MessageLayout) -> Decoder | None:
    """bytes -> frame without the dict of signals, or None: the general path."""
    if frame_type is ModuleStatus:
        return module_status_decoder(layout)
    for array in ARRAY_FRAMES:
        if frame_type is array:  # one generated function (arrays.py)
            return compile_array_decoder(layout, array.PREFIX, array, array.INTEGER_VALUES)
    return None


def direct_encoder(frame_type: type[Frame], layout: MessageLayout) -> Encoder | None:
    """frame -> payload (E2E bytes zero) without the dict of signals, or None."""
    if frame_type is ModuleStatus:
        return module_status_encoder(layout)
    for array in ARRAY_FRAMES:
        if frame_type is array:
            return compile_array_encoder(layout, array.PREFIX, *array.FIELDS)
    return None


def module_status_decoder(layout: MessageLayout) -> Decoder | None:
    """bytes -> frame, each signal read where the DBC puts it."""
    fields = {f.name: f for f in layout.fast.plain}
    if set(fields) != _MODULE_STATUS_SIGNALS or layout.fast.multiplexer is not None:
        return None  # a DBC this was not written for: the general path
    afe, cells, voltage = fields["AfeState"], fields["BalancingCells"], fields["ModuleVoltage"]
    flags = [fields[name] for _, name in MODULE_FAULT_BITS]
    if any(f.big_endian for f in (afe, cells, voltage, *flags)) or \
            any(f.mask != 1 or not f.identity for f in flags) or not afe.identity:
        return None  # the state is its value table's raw value, the flags plain bits
    fault_shifts = tuple((bit, f.shift) for (bit, _), f in zip(MODULE_FAULT_BITS, flags,
                                                               strict=True))

    def decode(data: bytes) -> ModuleStatus:  # from_signals, without the dict
        raw = int.from_bytes(data, "little")
        faults = 0
        for bit, shift in fault_shifts:  # one-bit flags
            if raw >> shift & 1:
                faults |= bit
        return ModuleStatus(AfeState(int(afe.read(raw, 0))), int(cells.read(raw, 0)),
                   physical(layout, "ModuleVoltage", voltage.read(raw, 0)),
                   ModuleFault(faults))
    return decode

def module_status_encoder(layout: MessageLayout) -> Encoder | None:
    """frame -> payload with the E2E bytes zero, each signal checked and placed as the
    general path does."""
    fields = {f.name: f for f in layout.encoder.plain}
    if set(fields) != _MODULE_STATUS_SIGNALS or layout.encoder.multiplexer is not None:
        return None  # a DBC this was not written for: the general path
    afe, cells, voltage = fields["AfeState"], fields["BalancingCells"], fields["ModuleVoltage"]
    flags = [fields[name] for _, name in MODULE_FAULT_BITS]
    if any(f.big_endian for f in (afe, cells, voltage, *flags)):
        return None
    fault_bits = tuple((bit, f.raw(1) << f.shift)
                       for (bit, _), f in zip(MODULE_FAULT_BITS, flags, strict=True))
    limits = layout.range_of("ModuleVoltage")
    length = layout.length

    def encode(frame: ModuleStatus) -> bytes:
        raw = afe.raw(int(frame.afe_state)) << afe.shift | \
            cells.raw(frame.balancing_mask) << cells.shift | \
            voltage.raw(limits.clamp(frame.module_voltage_v)) << voltage.shift
        faults = int(frame.faults)
        for bit, placed in fault_bits:
            if faults & bit:
                raw |= placed
        return raw.to_bytes(length, "little")
    return encode
