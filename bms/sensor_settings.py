"""Settings of the current sensor (`[sensor]`): whether the master configures the IVT-S at
start, the period it gives each result, and how long and how often it waits for a reply
(docs/PROTOCOLS.md, IVT-S: the sequence; docs/deployment.md: setting up a real sensor)."""

from __future__ import annotations

from dataclasses import dataclass

from bms.config_loader import setting

# a result period travels as 16 bits of milliseconds (IVT_Conf_CycleTime_*, dbc/ivt_s.dbc)
MAX_PERIOD_MS = 65535


@dataclass(frozen=True)
class SensorSettings:
    configure: bool = setting(False, doc="configure the IVT-S at start: stop it, set every "
                                         "result below (cyclic, big-endian), store, start it, "
                                         "each reply checked; the current is trusted only "
                                         "then. false: it is trusted as it is")
    # the master reads the current, U1 and U2: those three are never off
    current_period_ms: int = setting(10, minimum=1, maximum=100,
                                     doc="I: period of the current result")
    u1_period_ms: int = setting(100, minimum=1, maximum=1000,
                                doc="U1: the pack's voltage (plausibility, precharge)")
    u2_period_ms: int = setting(100, minimum=1, maximum=1000,
                                doc="U2: the bus behind the contactors")
    u3_period_ms: int = setting(100, minimum=0, maximum=MAX_PERIOD_MS, doc="U3; 0: off")
    temperature_period_ms: int = setting(100, minimum=0, maximum=MAX_PERIOD_MS,
                                         doc="T: the sensor's temperature; 0: off")
    power_period_ms: int = setting(100, minimum=0, maximum=MAX_PERIOD_MS, doc="W; 0: off")
    charge_period_ms: int = setting(100, minimum=0, maximum=MAX_PERIOD_MS,
                                    doc="As: the sensor's charge counter; 0: off")
    energy_period_ms: int = setting(100, minimum=0, maximum=MAX_PERIOD_MS,
                                    doc="Wh: the sensor's energy counter; 0: off")
    reply_timeout_s: float = setting(0.5, above=0.0, maximum=10.0,
                                     doc="a command not answered within this is sent again")
    retries: int = setting(2, minimum=0, maximum=10,
                           doc="times a command is sent again (no reply, or a wrong one) "
                               "before the setup fails: current_sensor_setup_failed, fatal")

    def periods_ms(self) -> tuple[int, ...]:
        """The eight results' periods in the sensor's order (result ids 0..7)."""
        return (self.current_period_ms, self.u1_period_ms, self.u2_period_ms,
                self.u3_period_ms, self.temperature_period_ms, self.power_period_ms,
                self.charge_period_ms, self.energy_period_ms)
