"""`bms inject ...` builds the simulation-bus command it is asked for."""

from __future__ import annotations

import pytest

from bms.cli import build_parser
from dbc.charger_frames import ChargerFlag
from dbc.sim_frames import InjectCharger
from sim.inject_cli import build_frame


def frame_of(*argv: str) -> object:
    return build_frame(build_parser().parse_args(["inject", *argv]))


def test_charger_flags_combine_and_last_the_duration() -> None:
    frame = frame_of("charger", "over-temperature", "hardware-failure", "--duration", "5")
    assert frame == InjectCharger(int(ChargerFlag.OVER_TEMPERATURE |
                                      ChargerFlag.HARDWARE_FAILURE), 5.0)


def test_charger_none_clears() -> None:
    assert frame_of("charger", "none") == InjectCharger(0, 0.0)


def test_an_unknown_charger_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        frame_of("charger", "on-fire")
    assert "invalid choice" in capsys.readouterr().err
