"""`bms site`, `bms site virtual` and `bms sim site-bus` refuse what they cannot run before
starting anything, and accept the shipped profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from bms.cli import main
from sim.site_configs import SITE_PROFILE, pack_names, socs_pct, write_configs


def test_a_site_without_packs_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "--config", str(SITE_PROFILE), "--check-config"]) == 2
    assert "site.packs: empty" in capsys.readouterr().err


def test_the_site_profile_with_packs_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "--config", str(SITE_PROFILE), "--set", 'site.packs=["a", "b"]',
                 "--check-config"]) == 0
    assert "site virtual-site of 2 packs (a, b), byd_hvs inverter" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "why"), [
    (["--packs", "0"], "--packs: 1 to 8"),
    (["--packs", "2", "--soc", "50", "--soc", "60", "--soc", "70"], "--soc: 3 given"),
    (["--duration", "0"], "--duration: must be positive"),
])
def test_the_virtual_site_refuses_what_it_cannot_run(
        args: list[str], why: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "virtual", *args]) == 2
    assert why in capsys.readouterr().err


def test_the_site_bus_needs_every_pack_of_the_site(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = pack_names(2)
    configs = write_configs(tmp_path, names, socs_pct(2), {"pack-1": 2001, "pack-2": 2002}, 2000)
    base = ["sim", "site-bus", "--config", str(configs.site), "--check-config"]
    assert main([*base, "--pack", str(configs.packs["pack-1"])]) == 2
    assert "no --pack for pack-2 of site.packs" in capsys.readouterr().err
    both = [a for path in configs.packs.values() for a in ("--pack", str(path))]
    assert main([*base, *both]) == 0
    assert "site bus of 2 packs and a byd_hvs inverter" in capsys.readouterr().out
    assert main([*base, *both, "--pack", str(configs.packs["pack-1"])]) == 2
    assert "pack pack-1 is given twice" in capsys.readouterr().err
