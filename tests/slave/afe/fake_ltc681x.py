"""A daisy chain of LTC681x ICs on a fake SPI port: checks every PEC it is sent, answers with
correct PECs (or corrupted ones, on demand), converts simulated cells and thermistors."""

from __future__ import annotations

from dataclasses import dataclass, field

from slave.afe import ltc681x as ltc
from slave.afe.pec15 import pec15, pec_ok, with_pec
from slave.afe.thermistor import Thermistor


@dataclass
class FakeIc:
    cells_mv: list[float]
    gpio_v: list[float]
    config_a: bytes = bytes(6)
    config_b: bytes = bytes(6)
    cell_registers: list[int] = field(default_factory=list)
    aux_registers: list[int] = field(default_factory=list)


class FakeChain:
    def __init__(self, variant: str, ics: int, cells_mv: list[float],
                 temperatures_degc: list[float], thermistor: Thermistor) -> None:
        self.variant = ltc.VARIANTS[variant]
        per_ic = self.variant.cells_per_ic
        sensors_per_ic = -(-len(temperatures_degc) // ics) if temperatures_degc else 0
        used_per_ic = len(cells_mv) // ics
        self.ics = []
        for ic in range(ics):
            cells = cells_mv[ic * used_per_ic:(ic + 1) * used_per_ic]
            temps = temperatures_degc[ic * sensors_per_ic:(ic + 1) * sensors_per_ic]
            gpios = [thermistor.voltage_v(t) for t in temps]
            gpios += [thermistor.reference_v] * (self.variant.gpios - len(gpios))  # no NTC
            self.ics.append(FakeIc(cells + [0.0] * (per_ic - len(cells)), gpios))
        self.received_bad_pecs = 0
        self.commands: list[int] = []
        self.corrupt_next_reads = 0
        self.open_wires: set[tuple[int, int]] = set()  # (ic, wire index 0..cells)
        self.closed = False

    # --- the SPI port ---------------------------------------------------------------------

    def transfer(self, data: bytes) -> bytes:
        if len(data) < 4:
            return b"\xff" * len(data)  # isoSPI wake-up
        if not pec_ok(data[:4]):
            self.received_bad_pecs += 1
            return b"\x00" * len(data)
        code = int.from_bytes(data[:2], "big")
        self.commands.append(code)
        if code in (ltc.WRCFGA, ltc.WRCFGB):
            self._write(code, data[4:])
            return b"\xff" * len(data)
        if code in (ltc.RDCFGA, ltc.RDCFGB) or code in ltc.RDCV or code in ltc.RDAUX:
            return data[:4] + self._read(code)
        self._act(code)
        return b"\xff" * len(data)

    def close(self) -> None:
        self.closed = True

    # --- behaviour --------------------------------------------------------------------------

    def _write(self, code: int, payload: bytes) -> None:
        blocks = [payload[i:i + 8] for i in range(0, len(payload), 8)]
        assert len(blocks) == len(self.ics), "one block per IC"
        for ic, block in zip(reversed(self.ics), blocks, strict=True):  # last IC first
            if not pec_ok(block):
                self.received_bad_pecs += 1
                continue
            if code == ltc.WRCFGA:
                ic.config_a = block[:6]
            else:
                ic.config_b = block[:6]

    def _act(self, code: int) -> None:
        pull_up, pull_down = code == ltc.ADOW_PULL_UP, code == ltc.ADOW_PULL_DOWN
        if code == ltc.ADCV or pull_up or pull_down:
            for index, ic in enumerate(self.ics):
                raw = [round(mv / ltc.CELL_LSB_MV) for mv in ic.cells_mv]
                for (open_ic, wire) in self.open_wires:
                    if open_ic != index:
                        continue
                    # the signature the datasheet describes: the cell above an open wire
                    # reads low with the pull-up current and high with the pull-down one
                    if wire < len(raw) and pull_up:
                        raw[wire] = 0
                    if wire < len(raw) and pull_down:
                        raw[wire] += 12000
                ic.cell_registers = raw
        elif code == ltc.ADAX:
            for ic in self.ics:
                volts = [*ic.gpio_v[:5], 3.0, *ic.gpio_v[5:]]  # group B holds REF2
                ic.aux_registers = [round(v * 1000 / ltc.CELL_LSB_MV) for v in volts]
        elif code == ltc.CLRCELL:
            for ic in self.ics:
                ic.cell_registers = [ltc.REGISTER_CLEARED] * len(ic.cell_registers)

    def _read(self, code: int) -> bytes:
        out = b""
        for ic in self.ics:
            if code == ltc.RDCFGA:
                data = ic.config_a
            elif code == ltc.RDCFGB:
                data = ic.config_b
            elif code in ltc.RDCV:
                group = ltc.RDCV.index(code)
                regs = (ic.cell_registers or [ltc.REGISTER_CLEARED] * 18)
                data = b"".join(regs[group * 3 + i].to_bytes(2, "little")
                                if group * 3 + i < len(regs) else b"\xff\xff" for i in range(3))
            else:
                group = ltc.RDAUX.index(code)
                regs = ic.aux_registers or [0xFFFF] * 12
                data = b"".join((regs[group * 3 + i] if group * 3 + i < len(regs) else 0xFFFF)
                                .to_bytes(2, "little") for i in range(3))
            block = with_pec(data)
            if self.corrupt_next_reads:
                block = block[:-1] + bytes([block[-1] ^ 0x02])
            out += block
        if self.corrupt_next_reads:
            self.corrupt_next_reads -= 1
        return out

    # --- what tests look at ---------------------------------------------------------------

    def dcc(self, ic: int) -> int:
        a, b = self.ics[ic].config_a, self.ics[ic].config_b
        return a[4] | (a[5] & 0x0F) << 8 | (b[0] >> 4) << 12 | (b[1] & 0x03) << 16

    def dcto(self, ic: int) -> int:
        return self.ics[ic].config_a[5] >> 4


assert pec15(b"\x00\x01") == 0x3D6E  # the fake speaks the same PEC as the datasheet
