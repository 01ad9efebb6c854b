"""Settings of the master's algorithms: balancing, state estimation, power limits.

Part of the pack configuration (`[balancing]`, `[estimation]`, `[drift]`, `[power_limits]`);
kept apart from bms/settings.py only to keep each file one concept.
"""

from __future__ import annotations

from dataclasses import dataclass

from bms.config_loader import InvalidSettingError, setting

BALANCING_MODES = ("off", "voltage", "soc")
STATE_NAMES = ("INIT", "STANDBY", "PRECHARGE", "NORMAL", "CHARGE", "ERROR")


@dataclass(frozen=True)
class BalancingSettings:
    mode: str = setting("voltage", doc="off; voltage: bleed cells above the lowest cell + "
                                       "threshold; soc: bleed each cell's charge above the "
                                       "emptiest cell's")
    threshold_mv: float = setting(10.0, minimum=1.0, maximum=255.0,
                                  doc="voltage mode: bleed cells this far above the lowest "
                                      "(the VCU may set another)")
    hysteresis_mv: float = setting(3.0, minimum=0.0, maximum=100.0,
                                   doc="a bleeding cell goes on until threshold - hysteresis")
    soc_threshold_pct: float = setting(0.5, above=0.0, maximum=50.0,
                                       doc="soc mode: bleed a cell holding more than this "
                                           "share of its capacity above the emptiest")
    min_cell_voltage_mv: float = setting(0.0, minimum=0.0, maximum=5000.0,
                                         doc="no bleeding below this; 0: the chemistry's "
                                             "floor (NMC 3400 mV, LFP 3200 mV)")
    max_temperature_degc: float = setting(50.0, minimum=-40.0, maximum=100.0,
                                          doc="no bleeding in a module hotter than this")
    max_current_a: float = setting(1.0, minimum=0.0, maximum=10000.0,
                                   doc="bleeding pauses while |pack current| is higher")
    max_cells_per_module: int = setting(8, minimum=1, maximum=18,
                                        doc="cells bleeding at once in one module (heat)")
    allowed_states: tuple[str, ...] = setting(("STANDBY", "NORMAL", "CHARGE"),
                                              doc="master states in which cells may bleed")
    resistor_ohm: float = setting(100.0, above=0.0, maximum=10000.0,
                                  doc="the slaves' bleed resistor (for the bleed current)")
    command_duration_s: int = setting(3, minimum=1, maximum=600,
                                      doc="each BalancingCommand holds this long unless renewed")

    def __post_init__(self) -> None:
        if self.mode not in BALANCING_MODES:
            raise InvalidSettingError("mode", f"must be one of {', '.join(BALANCING_MODES)}")
        unknown = [s for s in self.allowed_states if s not in STATE_NAMES]
        if unknown:
            raise InvalidSettingError("allowed_states",
                                      f"{unknown[0]} is not a state ({', '.join(STATE_NAMES)})")
        if "ERROR" in self.allowed_states or "INIT" in self.allowed_states:
            raise InvalidSettingError("allowed_states", "never in INIT or ERROR")


@dataclass(frozen=True)
class EstimationSettings:
    voltage_sigma_mv: float = setting(5.0, above=0.0, maximum=500.0,
                                      doc="EKF: 1-sigma of a cell voltage against the model "
                                          "(noise and model error)")
    current_sigma_a: float = setting(0.5, above=0.0, maximum=1000.0,
                                     doc="EKF: 1-sigma of the current measurement")
    initial_soc_sigma_pct: float = setting(10.0, above=0.0, maximum=100.0,
                                           doc="EKF: 1-sigma of the SOC it starts from")
    correction_period_s: float = setting(1.0, minimum=0.0, maximum=60.0,
                                         doc="EKF: cell voltages fused this often (the "
                                             "current every measurement)")
    rest_current_a: float = setting(0.2, minimum=0.0, maximum=1000.0,
                                    doc="below this (and below voltage_correction_max_c) "
                                        "the pack is at rest")
    rest_time_s: float = setting(600.0, minimum=1.0, maximum=86400.0,
                                 doc="after this long at rest the SOC is set from the OCV")
    rest_settled_mv_per_min: float = setting(
        0.0, minimum=0.0, maximum=100.0,
        doc="and only once no cell voltage moves faster than this (mV per minute): a cell "
            "still relaxing tells no OCV yet; 0: after rest_time_s whatever the voltages do")
    soc_drift_pct_per_sqrt_h: float = setting(
        2.0, minimum=0.0, maximum=100.0,
        doc="EKF: the model error it allows for, as SOC drift (points per sqrt(hour))")
    voltage_sigma_load_fraction: float = setting(
        1.0, minimum=0.0, maximum=10.0,
        doc="EKF: under current a cell voltage's 1-sigma grows by this fraction of its R0 "
            "drop (the model's error grows with the load); 0: a fixed voltage_sigma_mv")
    voltage_sigma_load_memory_s: float = setting(
        900.0, minimum=0.0, maximum=36000.0,
        doc="EKF: and the load it counts is the larger of the current and its mean over "
            "about this long (polarisation outlives the current); 0: the current alone")
    voltage_correction_max_c: float = setting(
        0.02, minimum=0.0, maximum=100.0,
        doc="EKF: above this load (C, as counted above) the voltages correct nothing and "
            "the SOC is counted: a model that misses the polarisation turns it into a drift "
            "of the SOC; 0: the voltages correct at every load")
    resistance_min_c: float = setting(
        0.2, minimum=0.0, maximum=100.0,
        doc="EKF: below this current (C) its resistance correction is held: a near-zero "
            "current says nothing of the resistance; 0: corrected at every current")
    ocv_soc_sigma_pct: float = setting(
        0.3, minimum=0.0, maximum=20.0,
        doc="the OCV table's 1-sigma error against the cell, as an offset along its SOC "
            "axis that no averaging removes: it widens the published SOC sigma (fitted "
            "tables: 0.25 to 0.65 points off the rested DFN cells, docs/estimation.md); 0: "
            "the filter's covariance alone")
    ocv_min_slope_mv_per_pct: float = setting(2.0, above=0.0, maximum=100.0,
                                              doc="OCV correction only where the OCV curve is "
                                                  "at least this steep (not on LFP plateaus)")
    capacity_min_soc_span_pct: float = setting(30.0, minimum=5.0, maximum=100.0,
                                               doc="SOH: capacity from two rest points at "
                                                   "least this far apart")
    capacity_gain: float = setting(0.3, above=0.0, maximum=1.0,
                                   doc="SOH: weight of a new capacity estimate")
    resistance_step_c: float = setting(0.5, above=0.0, maximum=100.0,
                                       doc="SOH: a current step at least this large (C) "
                                           "measures the resistance")
    resistance_gain: float = setting(0.05, above=0.0, maximum=1.0,
                                     doc="SOH: weight of a new resistance estimate")
    stored_soc_tolerance_pct: float = setting(10.0, above=0.0, maximum=100.0,
                                              doc="a stored SOC this far from the OCV's at "
                                                  "start is implausible: the OCV's is used")
    current_zero_time_constant_s: float = setting(
        30.0, minimum=0.0, maximum=3600.0,
        doc="the current sensor's zero is learned while every contactor is open (no current "
            "can flow), averaged over this; 0: not learned")
    current_zero_max_a: float = setting(2.0, above=0.0, maximum=100.0,
                                        doc="a learned zero beyond this is a sensor fault, "
                                            "not an offset: it is not applied")


@dataclass(frozen=True)
class DriftSettings:
    """The tools against SOC drift (docs/estimation.md#against-soc-drift)."""

    set_max_change_pct: float = setting(
        20.0, above=0.0, maximum=100.0,
        doc="set_soc (MQTT): the most one command moves the SOC (points)")
    set_max_current_c: float = setting(
        0.05, minimum=0.0, maximum=10.0,
        doc="set_soc is refused while |current| is above this (C): the OCV an operator "
            "reads the SOC off holds only near rest")
    set_sigma_pct: float = setting(
        3.0, minimum=0.1, maximum=50.0,
        doc="set_soc: the SOC's 1-sigma after a command that states none (points)")
    calibration_interval_days: float = setting(
        0.0, minimum=0.0, maximum=365.0,
        doc="a calibration charge (to the end of the voltage plateau, for LFP) this long "
            "after the last full point; 0: none")
    calibration_cell_voltage_mv: float = setting(
        0.0, minimum=0.0, maximum=5000.0,
        doc="the highest cell's voltage a calibration charge goes to (the inverter's "
            "charge voltage is the pack at it meanwhile); 0: the operating over-voltage "
            "limit")
    calibration_max_duration_h: float = setting(
        48.0, above=0.0, maximum=720.0,
        doc="a calibration charge that has not reached its full point after this long "
            "ends without one (the next comes calibration_interval_days later)")
    full_margin_mv: float = setting(
        15.0, above=0.0, maximum=500.0,
        doc="a full point: the highest cell within this of calibration_cell_voltage_mv ...")
    full_current_c: float = setting(
        0.05, above=0.0, maximum=1.0,
        doc="... with the current tapered to at most this (C) ...")
    full_hold_s: float = setting(
        30.0, minimum=0.0, maximum=3600.0,
        doc="... for this long: the SOC is set there, and the schedule starts again")
    gain_max_pct: float = setting(
        2.0, minimum=0.0, maximum=20.0,
        doc="the current sensor's gain correction learnt over full cycles stays within "
            "+-this; 0: not learnt")
    gain_min_span_pct: float = setting(
        50.0, minimum=10.0, maximum=100.0,
        doc="gain: from a full point and a rest point at least this far apart (points)")
    gain_weight: float = setting(
        1.0, above=0.0, maximum=1.0,
        doc="gain: the weight of a new measurement (1: it replaces the last)")


@dataclass(frozen=True)
class PowerLimitSettings:
    temperature_points_degc: tuple[float, ...] = setting(
        (), minimum=-60.0, maximum=150.0,
        doc="derating over the hottest/coldest cell; empty: from the operating limits")
    charge_temperature_factors: tuple[float, ...] = setting((), minimum=0.0, maximum=1.0,
                                                            doc="one per point, 0..1")
    discharge_temperature_factors: tuple[float, ...] = setting((), minimum=0.0, maximum=1.0,
                                                               doc="one per point, 0..1")
    soc_points_pct: tuple[float, ...] = setting((0.0, 5.0, 10.0, 20.0, 80.0, 90.0, 100.0),
                                                minimum=0.0, maximum=100.0,
                                                doc="derating over SOC")
    charge_soc_factors: tuple[float, ...] = setting((1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.1),
                                                    minimum=0.0, maximum=1.0,
                                                    doc="charge factor at the fullest cell")
    discharge_soc_factors: tuple[float, ...] = setting((0.0, 0.2, 0.5, 1.0, 1.0, 1.0, 1.0),
                                                       minimum=0.0, maximum=1.0,
                                                       doc="discharge factor at the emptiest")
    voltage_window_mv: float = setting(100.0, above=0.0, maximum=1000.0,
                                       doc="current derates to 0 over this much before a "
                                           "cell's operating voltage limit")
    charge_cell_voltage_mv: float = setting(
        0.0, minimum=0.0, maximum=5000.0,
        doc="the everyday charge: the charge current derates to 0 at this cell voltage "
            "and the inverter's charge voltage is the pack at it (e.g. LFP 3450); 0: the "
            "operating over-voltage limit. A calibration charge goes higher")
    resistance_horizon_s: float = setting(
        10.0, minimum=0.0, maximum=600.0,
        doc="the resistance limit is the current that would bring the weakest cell to its "
            "operating voltage limit after this long (R0, the RC pair charging and the OCV "
            "moving on); 0: at once (R0 alone)")
    ramp_up_c_per_s: float = setting(1.0, above=0.0, maximum=1000.0,
                                     doc="a limit rises at most this fast (falls at once)")
    limp_home_c: float = setting(0.1, minimum=0.0, maximum=10.0,
                                 doc="discharge floor under soft derating (temperature, SOC) "
                                     "so the vehicle can still move")

    def __post_init__(self) -> None:
        for points, names in (
            ("temperature_points_degc", ("charge_temperature_factors",
                                         "discharge_temperature_factors")),
            ("soc_points_pct", ("charge_soc_factors", "discharge_soc_factors")),
        ):
            xs = getattr(self, points)
            if list(xs) != sorted(set(xs)):
                raise InvalidSettingError(points, "must increase strictly")
            for name in names:
                factors = getattr(self, name)
                if len(factors) != len(xs):
                    raise InvalidSettingError(name, f"needs one factor per {points} entry")
                if any(not 0.0 <= f <= 1.0 for f in factors):
                    raise InvalidSettingError(name, "factors must be within 0..1")
        if len(self.soc_points_pct) < 2:
            raise InvalidSettingError("soc_points_pct", "needs at least two points")
