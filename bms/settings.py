"""The pack configuration: one TOML file per pack, every key typed, bounded and defaulted.

With no file at all the defaults describe the virtual pack of the README: 8 modules of 16
NMC cells on udp_multicast. `load_settings` is the only way in; it refuses unknown keys and
bad values with a message that names the key.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bms.algorithm_settings import (
    BalancingSettings,
    DriftSettings,
    EstimationSettings,
    PowerLimitSettings,
)
from bms.config_loader import InvalidSettingError, Scalar, apply_overrides, load, read_toml, setting
from bms.endpoint_settings import EndpointSettings, MqttSettings
from bms.errors import ConfigError
from bms.sensor_settings import SensorSettings
from bms.site_settings import SiteSettings
from bms.sunspec_settings import SunSpecSettings
from bms.web_settings import WebSettings

# Bounds that the pack DBC can carry (tests check them against dbc/pack.dbc).
MAX_MODULES = 32
MAX_CELLS_PER_MODULE = 18
MAX_TEMPERATURE_SENSORS_PER_MODULE = 16


class Chemistry(enum.StrEnum):
    NMC = "NMC"
    LFP = "LFP"


PACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class PackSettings:
    name: str = setting("virtual-pack", doc="pack id, used in logs and telemetry")
    modules: int = setting(8, minimum=1, maximum=MAX_MODULES, doc="number of modules (slaves)")
    cells_per_module: int = setting(16, minimum=1, maximum=MAX_CELLS_PER_MODULE,
                                    doc="series cells per module")
    temperature_sensors_per_module: int = setting(
        8, minimum=1, maximum=MAX_TEMPERATURE_SENSORS_PER_MODULE, doc="sensors per module")
    chemistry: Chemistry = setting(Chemistry.NMC, doc="NMC or LFP")
    cell_capacity_ah: float = setting(0.0, minimum=0.0, maximum=2000.0,
                                      doc="capacity of one series cell; 0: the chemistry's "
                                          "reference cell (NMC 5 Ah, LFP 2.3 Ah)")
    time_scale: float = setting(1.0, minimum=1.0, maximum=100.0,
                                doc="slow motion: every period, timeout and delay x this "
                                    "(for emulated or very slow machines)")
    cell: str = setting("", doc="a cell model file (docs/cells.md; relative to this "
                                "file), or a shipped one by name (lg-m50, a123-26650); "
                                "empty: the chemistry's built-in reference cell")

    def __post_init__(self) -> None:
        # one level of every telemetry topic (bms/<name>/...), a file name, a log prefix:
        # MQTT's wildcards or a separator in it and its telemetry goes nowhere
        if not PACK_NAME.fullmatch(self.name):
            raise InvalidSettingError("name", f"must be 1 to 64 letters, digits, '-', '_' or "
                                              f"'.', got {self.name!r}")

    @property
    def cells(self) -> int:
        return self.modules * self.cells_per_module


@dataclass(frozen=True)
class ThermistorSettings:
    beta: float = setting(3435.0, above=0.0, maximum=10000.0, doc="NTC Beta (25/85 degC)")
    r25_ohm: float = setting(10000.0, above=0.0, maximum=1e7, doc="NTC resistance at 25 degC")
    pullup_ohm: float = setting(10000.0, above=0.0, maximum=1e7,
                                doc="divider resistor to the reference")
    reference_v: float = setting(3.0, above=0.0, maximum=6.0, doc="divider reference voltage")


@dataclass(frozen=True)
class Ltc681xSettings:
    spi_bus: int = setting(0, minimum=0, maximum=16)
    spi_device: int = setting(0, minimum=0, maximum=16)
    speed_hz: int = setting(1_000_000, minimum=10_000, maximum=2_000_000)
    ics: int = setting(1, minimum=1, maximum=16, doc="ICs in the daisy chain of this module")
    retries: int = setting(2, minimum=0, maximum=10, doc="re-reads after a PEC error")
    discharge_timeout_code: int = setting(2, minimum=0, maximum=15,
                                          doc="DCTO: the chip stops bleeding by itself "
                                              "(2 = 1 min)")
    open_wire_every: int = setting(50, minimum=0, maximum=100000,
                                   doc="run the open-wire check every N measurements; 0: never")
    comparator_uv_mv: float = setting(2500.0, minimum=0.0, maximum=6553.0)
    comparator_ov_mv: float = setting(4300.0, minimum=0.0, maximum=6553.0)
    thermistor: ThermistorSettings = field(default_factory=ThermistorSettings)


@dataclass(frozen=True)
class Bq76952Settings:
    i2c_bus: int = setting(1, minimum=0, maximum=16)
    address: int = setting(0x08, minimum=0x08, maximum=0x77)
    retries: int = setting(2, minimum=0, maximum=10, doc="re-reads after a checksum error")
    cell_inputs: tuple[int, ...] = setting((), minimum=1, maximum=16,
                                           doc="cell inputs 1..16 in use, bottom first; "
                                               "empty: the first cells_per_module")
    balancing_subcommand: int = setting(0x0083, minimum=0, maximum=0xFFFF,
                                        doc="CB_ACTIVE_CELLS (TI TRM); check your silicon")


@dataclass(frozen=True)
class SlaveSettings:
    afe: str = setting("sim", doc="AFE backend: sim, ltc6811, ltc6813, bq76952")
    measurement_period_s: float = setting(0.1, minimum=0.01, maximum=10.0,
                                          doc="cell voltages measured and sent every period")
    temperature_period_s: float = setting(0.5, minimum=0.01, maximum=60.0,
                                          doc="temperatures sent every period")
    status_period_s: float = setting(0.2, minimum=0.01, maximum=60.0,
                                     doc="ModuleStatus sent every period")
    balancing_command_timeout_s: float = setting(
        3.0, above=0.0, maximum=600.0, doc="bleeding stops when the last command is older")
    ltc681x: Ltc681xSettings = field(default_factory=Ltc681xSettings)
    bq76952: Bq76952Settings = field(default_factory=Bq76952Settings)

    def __post_init__(self) -> None:
        if self.temperature_period_s < self.measurement_period_s:
            raise InvalidSettingError("temperature_period_s",
                                      "must not be shorter than measurement_period_s")
        if self.status_period_s < self.measurement_period_s:
            raise InvalidSettingError("status_period_s",
                                      "must not be shorter than measurement_period_s")


@dataclass(frozen=True)
class MasterSettings:
    tick_period_s: float = setting(0.01, minimum=0.001, maximum=1.0,
                                   doc="control loop period (timeouts are checked every tick)")
    heartbeat_period_s: float = setting(0.1, minimum=0.01, maximum=10.0,
                                        doc="MasterHeartbeat period")
    status_period_s: float = setting(0.2, minimum=0.01, maximum=10.0,
                                     doc="MasterStatus (all pages) period")
    slave_stale_timeout_s: float = setting(0.25, above=0.0, maximum=60.0,
                                           doc="a slave with no valid frame for this long is stale")
    slave_lost_timeout_s: float = setting(0.35, above=0.0, maximum=60.0,
                                          doc="a slave with no valid frame for this long is lost")
    temperature_stale_timeout_s: float = setting(
        1.25, above=0.0, maximum=600.0, doc="temperatures older than this are not used")
    e2e_max_lost_frames: int = setting(2, minimum=0, maximum=13,
                                       doc="tolerated alive-counter gap before WRONG_SEQUENCE")
    frozen_readings_s: float = setting(10.0, minimum=0.0, maximum=600.0,
                                       doc="a module whose cell voltages all stay exactly "
                                           "the same this long is frozen (fatal); 0: off")
    flipping_readings_mv: float = setting(
        30.0, minimum=0.0, maximum=1000.0,
        doc="a cell that jumps at least this far from its group's pattern and back, in 4 "
            "of a group's last 16 frames, makes its module's readings flipping (fatal); 0: off")
    current_response_swing_a: float = setting(
        5.0, minimum=0.0, maximum=10_000.0,
        doc="across a current swing of at least this much within 3 s, a module whose "
            "voltage answers with less than a quarter of the median module's ignores the "
            "current (fatal); 0: off")
    e2e_window_frames: int = setting(16, minimum=2, maximum=64,
                                     doc="a slave's E2E results are judged over its last "
                                         "this many protected frames")
    e2e_window_errors: int = setting(3, minimum=1, maximum=64,
                                     doc="failed E2E checks in that window that make a "
                                         "slave's frames violated (slave_e2e counts these)")
    startup_grace_s: float = setting(10.0, above=0.0, maximum=600.0,
                                     doc="INIT waits this long for slaves, sensor, box, VCU")
    current_timeout_s: float = setting(0.2, above=0.0, maximum=10.0,
                                       doc="current older than this: sensor lost")
    current_counter_timeout_s: float = setting(2.0, above=0.0, maximum=60.0,
                                               doc="sensor counter frozen this long: lost")
    charge_detect_a: float = setting(0.5, minimum=0.0, maximum=100.0,
                                     doc="above this current the charge temperature limits apply")
    vcu_heartbeat_timeout_s: float = setting(1.0, minimum=0.0, maximum=60.0,
                                             doc="VCU request older than this is a fault; "
                                                 "0: no VCU is monitored")
    blackbox_dir: str = setting("blackbox", doc="where black-box logs go (a folder; relative "
                                                "to the working directory); empty: none")
    blackbox_pre_s: float = setting(10.0, minimum=0.0, maximum=600.0,
                                    doc="black box: seconds of traffic before a fatal reaction")
    blackbox_post_s: float = setting(2.0, minimum=0.0, maximum=600.0,
                                     doc="black box: seconds of traffic after it")
    realtime_priority: int = setting(10, minimum=0, maximum=99,
                                     doc="SCHED_FIFO priority of the master process (needs "
                                         "root or CAP_SYS_NICE, else normal); 0: normal")
    store_path: str = setting("bms.sqlite", doc="SQLite store of events, estimator state and "
                                                "counters (relative to the working directory); "
                                                "empty: none")
    store_snapshot_period_s: float = setting(10.0, minimum=0.1, maximum=3600.0,
                                             doc="estimator state and counters saved this often")
    store_max_events: int = setting(100_000, minimum=0, maximum=100_000_000,
                                    doc="the store keeps this many of the latest events (about "
                                        "0.5 kB each); older ones are deleted and counted; "
                                        "0: all, without a bound")

    def __post_init__(self) -> None:
        if self.slave_lost_timeout_s <= self.slave_stale_timeout_s:
            raise InvalidSettingError("slave_lost_timeout_s",
                                      "must be longer than slave_stale_timeout_s")
        if self.tick_period_s > self.slave_stale_timeout_s / 2:
            raise InvalidSettingError("tick_period_s",
                                      "must be at most half of slave_stale_timeout_s")
        if self.e2e_window_errors > self.e2e_window_frames:
            raise InvalidSettingError("e2e_window_errors", "must not exceed e2e_window_frames")


# what a limit can be at all: the cell-voltage signals' range, the temperature sensors'
# and the current sensor's
CELL_MV_MAX = 6553.0
TEMPERATURE_MIN_DEGC = -60.0
TEMPERATURE_MAX_DEGC = 150.0
CURRENT_MAX_A = 10_000.0


@dataclass(frozen=True)
class LimitOverrides:
    """Overrides of the chemistry's limits; each tiered one is [operating, recommended,
    maximum]. Unset keys keep the chemistry's defaults (see master/diagnosis/limits.py)."""

    cell_overvoltage_mv: tuple[float, ...] | None = setting(None, above=0.0, maximum=CELL_MV_MAX)
    cell_undervoltage_mv: tuple[float, ...] | None = setting(None, above=0.0,
                                                             maximum=CELL_MV_MAX)
    deep_discharge_mv: float | None = setting(None, above=0.0, maximum=CELL_MV_MAX)
    discharge_overtemperature_degc: tuple[float, ...] | None = setting(
        None, minimum=TEMPERATURE_MIN_DEGC, maximum=TEMPERATURE_MAX_DEGC)
    discharge_undertemperature_degc: tuple[float, ...] | None = setting(
        None, minimum=TEMPERATURE_MIN_DEGC, maximum=TEMPERATURE_MAX_DEGC)
    charge_overtemperature_degc: tuple[float, ...] | None = setting(
        None, minimum=TEMPERATURE_MIN_DEGC, maximum=TEMPERATURE_MAX_DEGC)
    charge_undertemperature_degc: tuple[float, ...] | None = setting(
        None, minimum=TEMPERATURE_MIN_DEGC, maximum=TEMPERATURE_MAX_DEGC)
    discharge_overcurrent_a: tuple[float, ...] | None = setting(None, above=0.0,
                                                                maximum=CURRENT_MAX_A)
    charge_overcurrent_a: tuple[float, ...] | None = setting(None, above=0.0,
                                                             maximum=CURRENT_MAX_A)
    cell_voltage_spread_mv: float | None = setting(None, above=0.0, maximum=CELL_MV_MAX)
    temperature_spread_degc: float | None = setting(None, above=0.0, maximum=200.0)
    pack_voltage_plausibility_v: float | None = setting(None, above=0.0, maximum=1000.0)


@dataclass(frozen=True)
class DiagnosisOverride:
    """Per entry of the diagnosis table (by lower-case name, e.g. cell_overvoltage_msl)."""

    debounce_set: int | None = setting(None, minimum=1, maximum=1000)
    debounce_clear: int | None = setting(None, minimum=1, maximum=1000)
    reaction_delay_s: float | None = setting(None, minimum=0.0, maximum=60.0)


@dataclass(frozen=True)
class GpioContactorSettings:
    chip: str = setting("/dev/gpiochip0", doc="the GPIO chip of the coils and contacts")
    main_plus_line: int = setting(17, minimum=0, maximum=1023)
    main_minus_line: int = setting(27, minimum=0, maximum=1023)
    precharge_line: int = setting(22, minimum=0, maximum=1023)
    main_plus_feedback_line: int = setting(5, minimum=-1, maximum=1023, doc="-1: none")
    main_minus_feedback_line: int = setting(6, minimum=-1, maximum=1023, doc="-1: none")
    precharge_feedback_line: int = setting(13, minimum=-1, maximum=1023, doc="-1: none")
    outputs_active_low: bool = setting(False, doc="a coil driver that closes on a low line")
    feedback_active_low: bool = setting(True, doc="auxiliary contacts pulling the input low")


@dataclass(frozen=True)
class ContactorSettings:
    driver: str = setting("can", doc="can: a contactor box on the pack bus; gpio: the "
                                     "master's own GPIO lines")
    command_period_s: float = setting(0.1, minimum=0.01, maximum=1.0,
                                      doc="ContactorCommand period (also sent on change)")
    auth_key_env: str = setting("", doc="authenticated contactor commands: the environment "
                                        "variable holding the key (hex, >= 16 bytes) the "
                                        "master and the box share; empty: off")
    close_settle_s: float = setting(0.1, above=0.0, maximum=5.0,
                                    doc="feedback must match a command within this time")
    feedback_timeout_s: float = setting(0.5, above=0.0, maximum=10.0,
                                        doc="no ContactorFeedback this long: box lost")
    open_delay_s: float = setting(0.02, minimum=0.0, maximum=5.0,
                                  doc="main plus opens first, main minus this much later")
    max_break_current_a: float = setting(300.0, above=0.0, maximum=100000.0,
                                         doc="never command an opening above this current")
    break_wait_s: float = setting(3.0, minimum=0.0, maximum=60.0,
                                  doc="how long to wait for the current to fall (or the fuse)")
    precharge_voltage_threshold_v: float = setting(1.0, above=0.0, maximum=100.0)
    precharge_current_threshold_a: float = setting(0.05, above=0.0, maximum=100.0)
    precharge_timeout_s: float = setting(2.0, above=0.0, maximum=60.0)
    precharge_tries: int = setting(3, minimum=1, maximum=10)
    precharge_pause_s: float = setting(3.0, minimum=0.0, maximum=600.0)
    gpio: GpioContactorSettings = field(default_factory=GpioContactorSettings)

    def __post_init__(self) -> None:
        if self.driver not in ("can", "gpio"):
            raise InvalidSettingError("driver", "must be can or gpio")


@dataclass(frozen=True)
class CellSimSettings:
    seed: int = setting(1, minimum=0, maximum=2**63 - 1, doc="random seed: same seed, same pack")
    capacity_spread_pct: float = setting(2.0, minimum=0.0, maximum=30.0,
                                         doc="1-sigma spread of capacity")
    resistance_spread_pct: float = setting(5.0, minimum=0.0, maximum=50.0,
                                           doc="1-sigma spread of R0 and R1")
    capacity_factor: float = setting(1.0, minimum=0.3, maximum=1.5,
                                     doc="every cell's capacity times this (an aged pack: "
                                         "below 1; the master is not told)")
    resistance_factor: float = setting(1.0, minimum=0.5, maximum=5.0,
                                       doc="every cell's R0 and R1 times this (an aged pack: "
                                           "above 1; the master is not told)")
    initial_soc_pct: float = setting(60.0, minimum=0.0, maximum=100.0, doc="mean initial SOC")
    initial_soc_spread_pct: float = setting(2.0, minimum=0.0, maximum=30.0,
                                            doc="1-sigma spread of initial SOC (points)")
    ambient_degc: float = setting(25.0, minimum=-40.0, maximum=80.0, doc="ambient temperature")
    voltage_noise_mv: float = setting(0.5, minimum=0.0, maximum=50.0,
                                      doc="1-sigma AFE voltage noise")
    temperature_noise_degc: float = setting(0.1, minimum=0.0, maximum=5.0,
                                            doc="1-sigma temperature sensor noise")
    self_discharge_pct_per_month: float = setting(2.0, minimum=0.0, maximum=50.0)
    coulombic_efficiency: float = setting(0.999, above=0.5, maximum=1.0,
                                          doc="charge efficiency")
    balancing_resistor_ohm: float = setting(100.0, above=0.0, maximum=10000.0,
                                            doc="passive bleed resistor per cell")
    balancing_heat_fraction: float = setting(0.5, minimum=0.0, maximum=1.0,
                                             doc="share of bleed heat that warms the cell")
    balancing: str = setting("passive", doc="passive: a bleed resistor per cell; active: "
                                            "charge moved from a cell to its whole module")
    active_balancing_current_a: float = setting(1.0, above=0.0, maximum=100.0,
                                                doc="active: current taken from a cell")
    active_balancing_efficiency: float = setting(0.85, above=0.0, maximum=1.0,
                                                 doc="active: share of the energy that arrives")
    model: str = setting("rich", doc="rich: the cell's slow second RC pair and its OCV "
                                     "hysteresis beside what the estimator models; estimator: "
                                     "the estimator's own one-RC model (they agree by "
                                     "construction)")

    def __post_init__(self) -> None:
        if self.balancing not in ("passive", "active"):
            raise InvalidSettingError("balancing", "must be passive or active")
        if self.model not in ("rich", "estimator"):
            raise InvalidSettingError("model", "must be rich or estimator")


@dataclass(frozen=True)
class CurrentStep:
    duration_s: float = setting(1.0, above=0.0, doc="how long this step lasts")
    current_c: float = setting(0.0, minimum=-100.0, maximum=100.0,
                               doc="pack current in C (1 C = the cell capacity in A); "
                                   "positive charges")


# a city drive: 2 C cruise, a 5 C acceleration, 0.8 C regeneration, a stop
DEFAULT_PROFILE = (
    CurrentStep(20.0, -2.0),
    CurrentStep(5.0, -5.0),
    CurrentStep(10.0, 0.8),
    CurrentStep(15.0, 0.0),
)


@dataclass(frozen=True)
class CurrentSensorSimSettings:
    current_period_s: float = setting(0.01, minimum=0.001, maximum=1.0,
                                      doc="IVT current result period")
    other_results_period_s: float = setting(0.1, minimum=0.01, maximum=10.0,
                                            doc="IVT voltage, temperature, power, charge, energy")
    offset_a: float = setting(0.0, minimum=-100.0, maximum=100.0,
                              doc="sensor error: added to every current result")
    gain_error_pct: float = setting(0.0, minimum=-20.0, maximum=20.0,
                                    doc="sensor error: the current reads this much too high")
    byte_order: str = setting("big", doc="its results' byte order at power-up: big (what "
                                         "the master reads), little (as another project's "
                                         "start-up leaves a sensor)")
    commands: str = setting("obey", doc="the configuration on 0x411: obey (answer and apply, "
                                        "as a real one), mute (never answer), ignore (answer "
                                        "with its own configuration, unchanged)")

    def __post_init__(self) -> None:
        if self.byte_order not in ("big", "little"):
            raise InvalidSettingError("byte_order", "must be big or little")
        if self.commands not in ("obey", "mute", "ignore"):
            raise InvalidSettingError("commands", "must be obey, mute or ignore")


@dataclass(frozen=True)
class HvBoxSimSettings:
    precharge_resistor_ohm: float = setting(50.0, above=0.0, maximum=1e6)
    dc_link_capacitance_uf: float = setting(1000.0, above=0.0, maximum=1e6)
    bus_bleed_resistor_ohm: float = setting(20000.0, above=0.0, maximum=1e9,
                                            doc="discharges the DC link when open")
    close_time_s: float = setting(0.02, minimum=0.0, maximum=1.0, doc="contactor pull-in")
    open_time_s: float = setting(0.01, minimum=0.0, maximum=1.0, doc="contactor drop-out")
    command_timeout_s: float = setting(0.5, above=0.0, maximum=10.0,
                                       doc="no valid command this long: everything opens")
    fuse_rating_a: float = setting(600.0, above=0.0, maximum=1e5)
    fuse_time_s: float = setting(0.2, above=0.0, maximum=60.0,
                                 doc="the fuse opens after this long above its rating")
    feedback_period_s: float = setting(0.05, minimum=0.01, maximum=1.0)
    load_timeout_s: float = setting(0.5, above=0.0, maximum=10.0,
                                    doc="no load demand this long: the load draws nothing")


@dataclass(frozen=True)
class VcuSimSettings:
    request: str = setting("drive", doc="what the VCU asks for after its start delay: "
                                        "standby, drive or charge")
    start_delay_s: float = setting(2.0, minimum=0.0, maximum=3600.0)
    period_s: float = setting(0.1, minimum=0.01, maximum=1.0, doc="VcuRequest period")
    profile: tuple[CurrentStep, ...] = field(
        default=DEFAULT_PROFILE,
        metadata={"doc": "repeating load current while the BMS is NORMAL or CHARGE"})

    def __post_init__(self) -> None:
        if self.request not in ("standby", "drive", "charge"):
            raise InvalidSettingError("request", "must be standby, drive or charge")
        if not self.profile:
            raise InvalidSettingError("profile", "needs at least one step")


# a storage day in fast motion: solar surplus charges, the evening load discharges, idle
DEFAULT_INVERTER_PROFILE = (
    CurrentStep(600.0, 0.3),
    CurrentStep(600.0, -0.4),
    CurrentStep(120.0, 0.0),
)


@dataclass(frozen=True)
class ChargerSimSettings:
    """The simulated Elcon/TC charger (used when endpoints.charger is elcon)."""

    max_power_w: float = setting(6600.0, above=0.0, maximum=1e6, doc="output power limit")
    max_current_a: float = setting(100.0, above=0.0, maximum=2000.0, doc="output current limit")
    ramp_a_per_s: float = setting(20.0, above=0.0, maximum=1e4,
                                  doc="how fast the output current may change")
    voltage_gain_a_per_v: float = setting(0.0, minimum=0.0, maximum=1000.0,
                                          doc="constant-voltage regulation: current change "
                                              "per volt of error, every output period; 0: "
                                              "half the pack's conductance (stable)")
    command_timeout_s: float = setting(5.0, above=0.0, maximum=60.0,
                                       doc="no command this long: the output stops")
    output_period_s: float = setting(0.1, minimum=0.01, maximum=1.0)
    status_period_s: float = setting(1.0, minimum=0.1, maximum=10.0)


@dataclass(frozen=True)
class InverterSimSettings:
    """The simulated battery inverter (used when endpoints.inverter is can_bms)."""

    profile: tuple[CurrentStep, ...] = field(
        default=DEFAULT_INVERTER_PROFILE,
        metadata={"doc": "repeating battery current it wants (C, positive charges), "
                         "clipped to the BMS's limits"})
    limits_timeout_s: float = setting(3.0, above=0.0, maximum=60.0,
                                      doc="no 0x351 this long: the inverter stops")
    keep_alive_period_s: float = setting(1.0, minimum=0.1, maximum=10.0, doc="0x305")
    output_period_s: float = setting(0.1, minimum=0.01, maximum=1.0)

    def __post_init__(self) -> None:
        if not self.profile:
            raise InvalidSettingError("profile", "needs at least one step")


@dataclass(frozen=True)
class SimSettings:
    cells: CellSimSettings = field(default_factory=CellSimSettings)
    current_sensor: CurrentSensorSimSettings = field(default_factory=CurrentSensorSimSettings)
    hv_box: HvBoxSimSettings = field(default_factory=HvBoxSimSettings)
    vcu: VcuSimSettings = field(default_factory=VcuSimSettings)
    charger: ChargerSimSettings = field(default_factory=ChargerSimSettings)
    inverter: InverterSimSettings = field(default_factory=InverterSimSettings)


def _default_pack_bus() -> dict[str, Scalar]:
    return {"interface": "udp_multicast", "channel": "239.74.163.2", "port": 43113,
            "hop_limit": 0, "bitrate": 500000}


def _default_vehicle_bus() -> dict[str, Scalar]:
    return {"interface": "udp_multicast", "channel": "239.74.163.3", "port": 43114,
            "hop_limit": 0, "bitrate": 500000}


def _default_sim_bus() -> dict[str, Scalar]:
    return {"interface": "udp_multicast", "channel": "239.74.163.4", "port": 43115,
            "hop_limit": 0, "bitrate": 500000}


def _default_inverter_bus() -> dict[str, Scalar]:
    return {"interface": "udp_multicast", "channel": "239.74.163.5", "port": 43116,
            "hop_limit": 0, "bitrate": 500000}


def _check_bus(name: str, kwargs: dict[str, Scalar]) -> None:
    interface = kwargs.get("interface")
    if not isinstance(interface, str) or not interface:
        raise InvalidSettingError(f"{name}.interface", "required (a python-can interface name)")
    if "channel" not in kwargs:
        raise InvalidSettingError(f"{name}.channel", "required")
    if interface == "udp_multicast":
        try:
            group = ipaddress.ip_address(str(kwargs["channel"]))
        except ValueError:
            raise InvalidSettingError(f"{name}.channel", "must be a multicast IP address") from None
        if not group.is_multicast:
            raise InvalidSettingError(f"{name}.channel", f"{group} is not a multicast address")
        if kwargs.get("hop_limit") != 0:
            raise InvalidSettingError(f"{name}.hop_limit",
                          "must be 0 on udp_multicast, so frames never leave this host")


@dataclass(frozen=True)
class BusSettings:
    """Keyword arguments of `can.Bus` per bus (interface, channel, bitrate, ...)."""

    pack: dict[str, Scalar] = field(default_factory=_default_pack_bus)
    vehicle: dict[str, Scalar] = field(default_factory=_default_vehicle_bus)
    sim: dict[str, Scalar] = field(default_factory=_default_sim_bus)  # virtual pack only
    # the inverter's (endpoints.inverter): a bus of its own; in a pack without a VCU and
    # without a [bus.inverter] table, the vehicle bus (`load_settings`)
    inverter: dict[str, Scalar] = field(default_factory=_default_inverter_bus)

    def __post_init__(self) -> None:
        _check_bus("pack", self.pack)
        _check_bus("vehicle", self.vehicle)
        _check_bus("sim", self.sim)
        _check_bus("inverter", self.inverter)


@dataclass(frozen=True)
class Settings:
    pack: PackSettings = field(default_factory=PackSettings)
    slave: SlaveSettings = field(default_factory=SlaveSettings)
    master: MasterSettings = field(default_factory=MasterSettings)
    limits: LimitOverrides = field(default_factory=LimitOverrides)
    balancing: BalancingSettings = field(default_factory=BalancingSettings)
    estimation: EstimationSettings = field(default_factory=EstimationSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    power_limits: PowerLimitSettings = field(default_factory=PowerLimitSettings)
    endpoints: EndpointSettings = field(default_factory=EndpointSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    web: WebSettings = field(default_factory=WebSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    sunspec: SunSpecSettings = field(default_factory=SunSpecSettings)
    diagnosis: dict[str, DiagnosisOverride] = field(default_factory=dict)
    contactors: ContactorSettings = field(default_factory=ContactorSettings)
    sensor: SensorSettings = field(default_factory=SensorSettings)
    sim: SimSettings = field(default_factory=SimSettings)
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        # a slave that reports less often than its stale timeout would flap
        slowest = max(self.slave.measurement_period_s, self.slave.status_period_s)
        if self.master.slave_stale_timeout_s <= slowest:
            raise InvalidSettingError("master.slave_stale_timeout_s",
                          f"must be longer than the slave's slowest period ({slowest} s)")
        if self.master.temperature_stale_timeout_s <= self.slave.temperature_period_s:
            raise InvalidSettingError("master.temperature_stale_timeout_s",
                          "must be longer than slave.temperature_period_s")
        if self.mqtt.enabled and not self.master.store_path:
            raise InvalidSettingError("master.store_path", "MQTT needs the store: its outbox "
                                      "keeps events and state through broker outages")
        if self.endpoints.vcu and self.endpoints.inverter != "none" and \
                inverter_shares_vehicle_bus(self):
            raise InvalidSettingError("bus.inverter", "must not be the vehicle bus in a pack "
                                      "with a VCU: the vehicle frames 0x300-0x303 would meet "
                                      "the inverter's own (a Sunny Island sends 0x300-0x309)")


def _bus_identity(kwargs: dict[str, Scalar]) -> tuple[Scalar | None, ...]:
    """What makes two `can.Bus` arguments the same wire (not their bitrate)."""
    return kwargs.get("interface"), kwargs.get("channel"), kwargs.get("port")


def inverter_shares_vehicle_bus(settings: Settings) -> bool:
    """True when the inverter's bus is the vehicle bus (a pack without a VCU, by default)."""
    return _bus_identity(settings.bus.inverter) == _bus_identity(settings.bus.vehicle)


def inverter_bus(settings: Settings) -> str | None:
    """The bus the inverter is on: None without one, ``vehicle`` when it shares the vehicle
    bus, else ``inverter`` (a bus of its own)."""
    if settings.endpoints.inverter == "none":
        return None
    return "vehicle" if inverter_shares_vehicle_bus(settings) else "inverter"


def _extend_default_buses(data: dict[str, Any]) -> None:
    """A [bus.X] table that names no interface only changes keys of the default bus."""
    buses = data.get("bus")
    if not isinstance(buses, dict):
        return
    defaults = BusSettings()
    for name, table in buses.items():
        if isinstance(table, dict) and "interface" not in table and hasattr(defaults, name):
            buses[name] = {**getattr(defaults, name), **table}


def _inverter_on_the_vehicle_bus(data: dict[str, Any]) -> None:
    """Without a VCU and without a [bus.inverter] table, the inverter is on the vehicle bus
    (a storage pack has no other peer there); with a VCU it keeps a bus of its own."""
    endpoints = data.get("endpoints")
    vcu = endpoints.get("vcu", True) if isinstance(endpoints, dict) else True
    buses = data.setdefault("bus", {})
    if vcu is not False or not isinstance(buses, dict) or "inverter" in buses:
        return
    vehicle = buses.get("vehicle")
    buses["inverter"] = dict(vehicle) if isinstance(vehicle, dict) \
        else BusSettings().vehicle


# What `pack.time_scale` stretches: every period, timeout and delay of the processes. The
# physics (time constants of cells, RC circuits) and the DBC cycle times stay as they are.
SCALED_TIMES = {
    "slave": ("measurement_period_s", "temperature_period_s", "status_period_s",
              "balancing_command_timeout_s"),
    "master": ("tick_period_s", "heartbeat_period_s", "status_period_s",
               "slave_stale_timeout_s", "slave_lost_timeout_s", "temperature_stale_timeout_s",
               "startup_grace_s", "current_timeout_s", "current_counter_timeout_s",
               "vcu_heartbeat_timeout_s"),
    "contactors": ("command_period_s", "close_settle_s", "feedback_timeout_s", "open_delay_s",
                   "break_wait_s", "precharge_timeout_s", "precharge_pause_s"),
    "sim.current_sensor": ("current_period_s", "other_results_period_s"),
    "sim.hv_box": ("command_timeout_s", "feedback_period_s", "load_timeout_s"),
    "sim.vcu": ("start_delay_s", "period_s"),
}


def apply_time_scale(settings: Settings) -> Settings:
    """Stretch every period, timeout and delay by ``pack.time_scale``."""
    factor = settings.pack.time_scale
    if factor == 1.0:
        return settings
    sections: dict[str, Any] = {}
    for path, names in SCALED_TIMES.items():
        section = settings
        for part in path.split("."):
            section = getattr(section, part)
        sections[path] = dataclasses.replace(
            section, **{name: getattr(section, name) * factor for name in names})
    sim = dataclasses.replace(settings.sim, current_sensor=sections["sim.current_sensor"],
                              hv_box=sections["sim.hv_box"], vcu=sections["sim.vcu"])
    return dataclasses.replace(settings, slave=sections["slave"], master=sections["master"],
                               contactors=sections["contactors"], sim=sim)


def load_settings(path: Path | None = None, overrides: Sequence[str] = ()) -> Settings:
    """Settings from a TOML file (or the defaults) with ``key=value`` overrides applied,
    stretched by ``pack.time_scale``."""
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    apply_overrides(data, overrides)
    _anchor_cell_file(data, path)
    _extend_default_buses(data)
    _inverter_on_the_vehicle_bus(data)
    where = f"{path}: " if path is not None else ""
    try:
        return apply_time_scale(load(Settings, data))
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None


def _anchor_cell_file(data: dict[str, Any], path: Path | None) -> None:
    """A relative ``pack.cell`` path is the configuration file's neighbour."""
    pack = data.get("pack")
    if not isinstance(pack, dict):
        return
    cell = pack.get("cell")
    if path is not None and isinstance(cell, str) and cell.endswith(".toml") and \
            not Path(cell).is_absolute():
        pack["cell"] = str((path.parent / cell).resolve())


def bus_kwargs(settings: Settings, bus: str) -> dict[str, Scalar]:
    """The `can.Bus` keyword arguments of bus ``pack``, ``vehicle``, ``inverter`` or
    ``sim``."""
    return dict(getattr(settings.bus, bus))


def replace(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
