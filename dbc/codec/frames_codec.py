"""Encoding and decoding of typed frames, for all DBC files of one bus.

A codec takes databases as cantools loads them (`dbc.database`) or in their cached form
(`dbc.cached`: the shipped buses' codecs, so that a node starts without cantools).

`Codec.decode` turns a raw frame into ``(module_id, typed frame)``; `Codec.encode` does the
reverse and applies the E2E protection of protected messages. Both raise `DbcError`s only.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from dbc import e2e
from dbc.cached import cached_database, frame_id_mask
from dbc.codec.arrays import Decoder, Encoder
from dbc.codec.direct import direct_decoder, direct_encoder
from dbc.codec.layout import MessageLayout
from dbc.database import INVERTER_DBCS, PACK_BUS_DBCS, SIM_BUS_DBCS, VEHICLE_BUS_DBCS
from dbc.e2e import E2E_COUNTER_SIGNAL, E2E_CRC_SIGNAL
from dbc.errors import ContractError, DecodeError, DecodeFailure, EncodeError
from dbc.frames import PACK_FRAME_TYPES, Frame
from dbc.ivt import IVT_FRAME_TYPES

DECODE_CACHE_SIZE: Final = 4096


class CanFrame(NamedTuple):
    """A classic CAN frame as the cores see it: no transport, no timestamp. (A named tuple:
    a third of a frozen dataclass's cost to build, on the path of every frame.)"""

    arbitration_id: int
    data: bytes
    is_extended_id: bool = False


@dataclass(frozen=True, slots=True)
class Decoded:
    module_id: int
    frame: Frame
    layout: MessageLayout


class Codec:
    """Typed frames <-> CAN frames for a set of DBC databases sharing one bus."""

    def __init__(self, databases: Iterable[Any], frame_types: Iterable[type[Frame]]) -> None:
        self._tables: list[tuple[int, dict[tuple[int, bool], MessageLayout]]] = []
        self.layouts: dict[str, MessageLayout] = {}
        for db in databases:
            mask = frame_id_mask(db)
            table: dict[tuple[int, bool], MessageLayout] = {}
            for message in db.messages:
                layout = MessageLayout(message)
                if layout.name in self.layouts:
                    raise ContractError(f"message {layout.name} is defined twice on this bus")
                self._check_no_overlap(layout)
                self.layouts[layout.name] = layout
                table[(layout.base_id & mask, layout.is_extended_id)] = layout
            self._tables.append((mask, table))
        self._decoders: dict[str, type[Frame] | dict[int, type[Frame]]] = {}
        self._encoders: dict[type[Frame], MessageLayout] = {}
        # Typed frames are immutable: a payload seen again (by another listener of the same
        # frame, or a repeated value) is decoded once.
        self._decoded: dict[tuple[str, bytes], Frame] = {}
        # the last frame decoded: the other listeners of the same frame get it at once
        self._last: tuple[MessageLayout | None, bytes, Frame | None] = (None, b"", None)
        # generated decoders and encoders of the hot messages
        self._direct: dict[str, Decoder] = {}
        self._direct_encoders: dict[str, Encoder] = {}
        for frame_type in frame_types:
            self._register(frame_type)

    def _check_no_overlap(self, layout: MessageLayout) -> None:
        span = range(layout.base_id, layout.base_id + max(layout.module_id_range, 1))
        for other in self.layouts.values():
            if other.is_extended_id != layout.is_extended_id:
                continue
            other_span = range(other.base_id, other.base_id + max(other.module_id_range, 1))
            if span.start < other_span.stop and other_span.start < span.stop:
                raise ContractError(f"{layout.name} and {other.name} share CAN ids")

    def _register(self, frame_type: type[Frame]) -> None:
        layout = self.layouts.get(frame_type.MESSAGE)
        if layout is None:
            raise ContractError(f"{frame_type.__name__}: no message {frame_type.MESSAGE}")
        self._encoders[frame_type] = layout
        decoder = direct_decoder(frame_type, layout)
        if decoder is not None:
            self._direct[layout.name] = decoder
        encoder = direct_encoder(frame_type, layout)
        if encoder is not None:
            self._direct_encoders[layout.name] = encoder
        # a class of one page has `page`, a class of several (the IVT-S's eight result
        # configurations) `pages`
        page = getattr(frame_type, "page", None)
        several = getattr(frame_type, "pages", None)
        if several is not None:
            values = tuple(several(layout))
        elif page is not None:
            values = (page(layout),)
        else:
            self._decoders[layout.name] = frame_type
            return
        pages = self._decoders.setdefault(layout.name, {})
        if not isinstance(pages, dict):
            raise ContractError(f"{layout.name} mixes paged and unpaged frame types")
        for value in values:
            pages[value] = frame_type

    @property
    def frame_types(self) -> tuple[type[Frame], ...]:
        return tuple(self._encoders)

    def layout(self, name: str) -> MessageLayout:
        try:
            return self.layouts[name]
        except KeyError:
            raise ContractError(f"no message {name} on this bus") from None

    def layout_of(self, frame_type: type[Frame]) -> MessageLayout:
        return self._encoders[frame_type]

    def received_by(self, node: str) -> frozenset[str]:
        """Names of the messages the DBC lists ``node`` as a receiver of."""
        return frozenset(name for name, layout in self.layouts.items() if node in layout.receivers)

    def ids_received_by(self, node: str, module_id: int | None = None) -> frozenset[int]:
        """CAN ids a node listens to; per-module messages only for ``module_id`` if given."""
        ids: set[int] = set()
        for name in self.received_by(node):
            layout = self.layouts[name]
            if not layout.module_id_range:
                ids.add(layout.base_id)
            elif module_id is None:
                ids.update(range(layout.base_id, layout.base_id + layout.module_id_range))
            else:
                ids.add(layout.base_id + module_id)
        return frozenset(ids)

    def lookup(self, arbitration_id: int,
               is_extended_id: bool = False) -> tuple[MessageLayout, int]:
        """The message and module id a CAN id belongs to."""
        for mask, table in self._tables:
            layout = table.get((arbitration_id & mask, is_extended_id))
            if layout is None:
                continue
            module_id = arbitration_id - layout.base_id
            if module_id < 0 or (module_id and module_id >= layout.module_id_range):
                raise DecodeError(
                    DecodeFailure.BAD_MODULE_ID,
                    f"0x{arbitration_id:X}: {layout.name} has no module {module_id}",
                )
            return layout, module_id
        raise DecodeError(DecodeFailure.UNKNOWN_ID, f"unknown CAN id 0x{arbitration_id:X}")

    def decode(self, frame: CanFrame) -> Decoded:
        layout, module_id = self.lookup(frame.arbitration_id, frame.is_extended_id)
        return Decoded(module_id, self.decode_payload(layout, frame.data), layout)

    def decode_payload(self, layout: MessageLayout, data: bytes) -> Frame:
        last_layout, last_data, last_frame = self._last
        if data is last_data and layout is last_layout and last_frame is not None:
            return last_frame
        direct = self._direct.get(layout.name)
        frame: Frame | None
        if direct is not None and len(data) == layout.length:
            # measurements: a payload is rarely seen twice (the alive counter and the noise),
            # cheaper to decode than to look up
            try:
                frame = direct(data)
            except (KeyError, ValueError) as exc:  # an undefined page or enum value
                raise DecodeError(DecodeFailure.MALFORMED, f"{layout.name}: {exc!r}") from exc
        else:
            key = (layout.name, data)
            frame = self._decoded.get(key)
            if frame is None:
                frame = self._decode_payload(layout, data)
                if len(self._decoded) >= DECODE_CACHE_SIZE:
                    self._decoded.clear()
                self._decoded[key] = frame
        self._last = (layout, data, frame)  # bytes: the same object is the same payload
        return frame

    def _decode_payload(self, layout: MessageLayout, data: bytes) -> Frame:
        if len(data) != layout.length:
            raise DecodeError(
                DecodeFailure.WRONG_LENGTH,
                f"{layout.name}: {len(data)} bytes, the DBC says {layout.length}",
            )
        try:
            signals = layout.fast.decode(data)
            decoder = self._decoders[layout.name]
            if isinstance(decoder, dict):
                decoder = decoder[int(signals[str(layout.multiplexer)])]
            return decoder.from_signals(signals, layout)
        except (KeyError, ValueError) as exc:
            raise DecodeError(DecodeFailure.MALFORMED, f"{layout.name}: {exc!r}") from exc

    def encode(self, frame: Frame, module_id: int = 0, counter: int = 0) -> CanFrame:
        """Encode a typed frame; protected messages get ``counter`` and their CRC."""
        layout = self._encoders.get(type(frame))
        if layout is None:
            raise EncodeError(f"{type(frame).__name__} is not a frame of this bus")
        if module_id < 0 or (module_id and module_id >= layout.module_id_range):
            raise EncodeError(f"{layout.name}: module id {module_id} out of range")
        direct = self._direct_encoders.get(layout.name)
        try:
            if direct is not None:
                data = bytearray(direct(frame))
            else:
                signals = frame.to_signals(layout)
                if layout.e2e_protected:
                    signals[E2E_CRC_SIGNAL] = 0
                    signals[E2E_COUNTER_SIGNAL] = counter
                data = bytearray(layout.encoder.encode(signals))
        except (KeyError, ValueError, TypeError, OverflowError) as exc:  # FastEncodeError
            # is a ValueError; compiled, a value beyond a machine integer is a TypeError
            raise EncodeError(f"{layout.name}: {exc}") from exc
        if layout.e2e_protected:
            e2e.protect(data, layout.base_id, counter)
        return CanFrame(layout.base_id + module_id, bytes(data), layout.is_extended_id)


@functools.cache
def pack_codec() -> Codec:
    """The codec of the pack bus: pack.dbc and the IVT-S sensor's DBC."""
    return Codec(
        (cached_database(name) for name in PACK_BUS_DBCS), PACK_FRAME_TYPES + IVT_FRAME_TYPES
    )


@functools.cache
def vehicle_codec() -> Codec:
    """The codec of the vehicle bus: vehicle.dbc and the charger's DBC."""
    # each bus's frame classes imported with its codec: a slave never builds these
    from dbc.charger_frames import CHARGER_FRAME_TYPES
    from dbc.vehicle_frames import VEHICLE_FRAME_TYPES

    return Codec((cached_database(name) for name in VEHICLE_BUS_DBCS),
                 VEHICLE_FRAME_TYPES + CHARGER_FRAME_TYPES)


# each inverter protocol (endpoints.inverter): its frame classes' module (FRAME_TYPES)
INVERTER_FRAME_MODULES = {"can_bms": "dbc.inverter_frames",
                          "byd_hvs": "dbc.inverter_byd_hvs_frames",
                          "pylon_hv": "dbc.inverter_pylon_hv_frames"}


@functools.cache
def inverter_codec(protocol: str = "can_bms") -> Codec:
    """The codec of the inverter's bus for one protocol: its DBC (dbc.database.INVERTER_DBCS)."""
    module = INVERTER_FRAME_MODULES.get(protocol)
    if module is None or protocol not in INVERTER_DBCS:
        raise ContractError(f"unknown inverter protocol {protocol!r}: one of "
                            f"{', '.join(INVERTER_FRAME_MODULES)}")
    frame_types: tuple[type[Frame], ...] = importlib.import_module(module).FRAME_TYPES
    return Codec([cached_database(INVERTER_DBCS[protocol])], frame_types)


@functools.cache
def sim_codec() -> Codec:
    """The codec of the virtual pack's simulation bus: sim.dbc."""
    from dbc.sim_frames import SIM_FRAME_TYPES

    return Codec((cached_database(name) for name in SIM_BUS_DBCS), SIM_FRAME_TYPES)
