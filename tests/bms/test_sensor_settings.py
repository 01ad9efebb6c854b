"""`[sensor]`: off by default; the periods it sets are the DBC's cycle times; the results the
master reads cannot be switched off."""

from __future__ import annotations

import pytest

from bms.errors import ConfigError
from bms.sensor_settings import SensorSettings
from bms.settings import Settings, load_settings
from dbc.codec import pack_codec
from dbc.ivt import IvtQuantity


def test_configuring_is_off_unless_asked_for() -> None:
    assert Settings().sensor.configure is False
    assert load_settings(None, ["sensor.configure=true"]).sensor.configure is True


def test_the_default_periods_are_the_dbc_cycle_times() -> None:
    codec = pack_codec()
    cycle_ms = [round(1000 * (codec.layout(f"IVT_Msg_Result_{q.value}").cycle_time_s or 0))
                for q in IvtQuantity]
    assert list(SensorSettings().periods_ms()) == cycle_ms


def test_the_periods_are_in_the_order_of_the_result_ids() -> None:
    sensor = SensorSettings(current_period_ms=5, u1_period_ms=11, u2_period_ms=12,
                            u3_period_ms=0, temperature_period_ms=14, power_period_ms=15,
                            charge_period_ms=16, energy_period_ms=17)
    assert sensor.periods_ms() == (5, 11, 12, 0, 14, 15, 16, 17)


@pytest.mark.parametrize("override", [
    "sensor.current_period_ms=0",  # the master reads it: never off
    "sensor.u1_period_ms=0",
    "sensor.u2_period_ms=0",
    "sensor.current_period_ms=250",  # slower than the master's current timeout
    "sensor.energy_period_ms=65536",  # 16 bits of milliseconds
    "sensor.reply_timeout_s=0",
    "sensor.retries=-1",
])
def test_bad_sensor_settings_are_refused(override: str) -> None:
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        load_settings(None, [override])


def test_the_simulated_sensor_can_be_left_misconfigured() -> None:
    settings = load_settings(None, ['sim.current_sensor.byte_order="little"',
                                    'sim.current_sensor.commands="mute"'])
    assert (settings.sim.current_sensor.byte_order, settings.sim.current_sensor.commands) == \
        ("little", "mute")
    with pytest.raises(ConfigError, match="byte_order"):
        load_settings(None, ['sim.current_sensor.byte_order="middle"'])
    with pytest.raises(ConfigError, match="commands"):
        load_settings(None, ['sim.current_sensor.commands="sometimes"'])
