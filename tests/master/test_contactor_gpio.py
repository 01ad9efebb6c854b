"""Contactors on GPIO lines: polarity, feedback, and a master that drives its own coils."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from bms.can_port import CanPort
from bms.settings import GpioContactorSettings, load_settings
from dbc.codec import pack_codec, vehicle_codec
from dbc.endpoint import FrameSender
from dbc.frames import OPEN, CellVoltages, Contactors, MasterState
from dbc.ivt import IvtCurrent, IvtFlag, IvtVoltage1, IvtVoltage2
from dbc.vehicle_frames import RequestedState, VcuRequest
from master.contactor_gpio import GpioContactors
from master.core import MasterCore
from master.service import MasterShell


@dataclass
class FakeLines:
    """Output lines whose auxiliary contacts follow them (active low), like real coils."""

    settings: GpioContactorSettings
    levels: dict[int, bool] = field(default_factory=dict)
    released: bool = False

    def set_values(self, values: dict[int, bool]) -> None:
        self.levels.update(values)

    def get_values(self, lines: list[int]) -> list[bool]:
        s = self.settings
        follows = {s.main_plus_feedback_line: s.main_plus_line,
                   s.main_minus_feedback_line: s.main_minus_line,
                   s.precharge_feedback_line: s.precharge_line}
        return [not self.levels.get(follows[line], False) for line in lines]  # closed: low

    def release(self) -> None:
        self.released = True


def test_outputs_polarity_and_feedback() -> None:
    settings = GpioContactorSettings(outputs_active_low=True)
    lines = FakeLines(settings)
    driver = GpioContactors(settings, lines)
    assert lines.levels == {17: True, 27: True, 22: True}  # open: the active-low lines high
    driver.apply(Contactors(main_minus=True, precharge=True))
    assert lines.levels == {17: True, 27: False, 22: False}
    driver.close()
    assert lines.released
    assert lines.levels == {17: True, 27: True, 22: True}


def test_without_feedback_inputs_there_is_no_feedback() -> None:
    settings = GpioContactorSettings(main_plus_feedback_line=-1)
    driver = GpioContactors(settings, FakeLines(settings))
    assert driver.feedback() is None


async def test_a_master_drives_its_own_coils_through_precharge_and_opens_on_a_fault() -> None:
    settings = load_settings(None, ["pack.modules=1", "pack.cells_per_module=4",
                                    'contactors.driver="gpio"'])
    gpio_settings = settings.contactors.gpio
    lines = FakeLines(gpio_settings)
    gpio = GpioContactors(gpio_settings, lines)
    bus = f"gpio-{uuid.uuid4()}"
    slave, vcu = FrameSender(pack_codec()), FrameSender(vehicle_codec())
    async with CanPort({"interface": "virtual", "channel": bus}, "pack") as pack, \
            CanPort({"interface": "virtual", "channel": bus + "v"}, "vehicle") as vehicle:
        core = MasterCore(settings, 0.0)
        shell = MasterShell(core, pack, vehicle, gpio)
        bus_v = 0.0
        states = []
        for step in range(300):
            now = step / 100
            mv = 4400 if step >= 200 else 3700  # an over-voltage from t = 2 s
            core.on_pack_frame(slave.encode(CellVoltages(0, (mv, 3700, 3700, 3700)), 0), now)
            core.on_pack_frame(pack_codec().encode(IvtCurrent(step % 16, IvtFlag.NONE, 0)), now)
            core.on_pack_frame(pack_codec().encode(IvtVoltage1(step % 16, IvtFlag.NONE,
                                                               mv + 11100)), now)
            closed = gpio.applied is not None and gpio.applied.main_minus and \
                (gpio.applied.precharge or gpio.applied.main_plus)
            bus_v = (mv + 11100) / 1000 if closed else 0.0  # the DC link follows at once
            core.on_pack_frame(pack_codec().encode(IvtVoltage2(step % 16, IvtFlag.NONE,
                                                               round(bus_v * 1000))), now)
            core.on_vehicle_frame(vcu.encode(VcuRequest(RequestedState.DRIVE)), now)
            shell.read_gpio_feedback(now)
            shell.send(core.tick(now), now)
            states.append(core.state)
    assert MasterState.NORMAL in states  # closed through precharge with U2 as the bus
    assert core.state is MasterState.ERROR
    assert gpio.applied == OPEN
    assert lines.levels == {17: False, 27: False, 22: False}


def test_the_driver_setting_is_checked() -> None:
    with pytest.raises(Exception, match=r"contactors\.driver: must be can or gpio"):
        load_settings(None, ['contactors.driver="relay"'])
