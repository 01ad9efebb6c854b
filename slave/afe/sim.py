"""The simulated AFE: measures a `ModulePlant` with noise, the pack current from the bus.

In a slave process the current comes from the IVT-S frames; the configured sensor error of
the virtual current sensor (``sim.current_sensor``) is removed again, so that the cells see
the true current while the master sees the erroneous one. The lockstep harness, which holds
the HV box in the same process, gives the cells the box's current itself.
"""

from __future__ import annotations

from typing import Final

from bms.chemistry import cell_capacity_ah, pack_cell
from bms.rounding import round_half_even
from bms.settings import Settings
from dbc.frames import ModuleFault
from sim.module_plant import ModulePlant, Thevenin, module_rng
from sim.noise import GaussNoise
from slave.afe.base import AfeMeasurement

# The AFE quantises cell voltages to 100 uV (LTC681x LSB, docs/PROTOCOLS.md section 6).
AFE_LSB_MV: Final = 0.1


class SimAfe:
    """Advances the module's cells to each measurement time, then reads them."""

    def __init__(self, settings: Settings, module_id: int, now_s: float) -> None:
        self.plant = ModulePlant(
            settings.sim.cells,
            settings.pack.chemistry,
            module_id,
            settings.pack.cells_per_module,
            settings.pack.temperature_sensors_per_module,
            cell_capacity_ah(settings),
            pack_cell(settings),
        )
        self._noise = GaussNoise(module_rng(settings.sim.cells.seed, module_id, "noise"))
        self._voltage_noise_mv = settings.sim.cells.voltage_noise_mv
        self._temperature_noise_degc = settings.sim.cells.temperature_noise_degc
        self._pack_current_a = 0.0
        self._last_s = now_s
        sensor = settings.sim.current_sensor
        self._sensor_offset_a = sensor.offset_a
        self._sensor_gain = 1.0 + sensor.gain_error_pct / 100.0
        # the true voltage across the module's cells at the latest measurement (what a
        # current sensor's voltage input sees; the lockstep harness hands it over)
        self.module_voltage_v = sum(self.plant.cell_voltages_v(0.0))

    def set_pack_current(self, measured_a: float, now_s: float) -> None:
        """The current as the IVT-S measured it (a slave process hears it on the bus)."""
        self.set_true_current((measured_a - self._sensor_offset_a) / self._sensor_gain, now_s)

    def set_true_current(self, current_a: float, now_s: float) -> None:
        """The current that flows from ``now_s`` on (the lockstep harness knows it)."""
        if current_a == self._pack_current_a:
            return  # nothing changes: the cells are advanced when they are measured
        self._advance(now_s)  # the old current flowed until now
        self._pack_current_a = current_a

    def _advance(self, now_s: float) -> None:
        if now_s > self._last_s:
            self.plant.advance(now_s - self._last_s, self._pack_current_a)
            self._last_s = now_s

    def thevenin(self, now_s: float) -> Thevenin:
        """The module's cells as one source at ``now_s``, advanced to it as for a measurement
        (what a shared DC bus needs of them, sim/site_plant.py)."""
        self._advance(now_s)
        return self.plant.thevenin()

    def measure(self, now_s: float) -> AfeMeasurement:
        self._advance(now_s)
        gauss = self._noise.gauss
        voltage_noise_mv, temperature_noise_degc = \
            self._voltage_noise_mv, self._temperature_noise_degc
        true_v = self.plant.cell_voltages_v(self._pack_current_a)
        self.module_voltage_v = sum(true_v)
        voltages = tuple([
            round_half_even((v * 1000.0 + gauss(0.0, voltage_noise_mv)) / AFE_LSB_MV)
            * AFE_LSB_MV
            for v in true_v
        ])
        temperatures = tuple([t + gauss(0.0, temperature_noise_degc)
                              for t in self.plant.sensor_temperatures_degc()])
        return AfeMeasurement(voltages, temperatures, ModuleFault.NONE)

    def set_balancing(self, cells_mask: int) -> None:
        self.plant.balancing_mask = cells_mask & ((1 << len(self.plant.cells)) - 1)

    def close(self) -> None:
        self.plant.balancing_mask = 0
