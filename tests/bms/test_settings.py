"""The pack configuration: defaults, cross-checks, bus tables, shipped examples."""

from pathlib import Path

import pytest

from bms.cli import main as cli_main
from bms.errors import ConfigError
from bms.settings import Chemistry, Settings, bus_kwargs, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_readme_virtual_pack() -> None:
    settings = load_settings()
    assert (settings.pack.modules, settings.pack.cells_per_module) == (8, 16)
    assert settings.pack.chemistry is Chemistry.NMC
    assert bus_kwargs(settings, "pack") == {
        "interface": "udp_multicast", "channel": "239.74.163.2", "port": 43113,
        "hop_limit": 0, "bitrate": 500000}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["pack.modules=33"], "pack.modules: must be <= 32"),
        (["pack.cells_per_module=19"], "pack.cells_per_module: must be <= 18"),
        (["pack.modules=0"], "pack.modules: must be >= 1"),
        (["master.slave_lost_timeout_s=0.2"], "master.slave_lost_timeout_s: must be longer"),
        (["master.slave_stale_timeout_s=0.05"], "master.slave_stale_timeout_s: must be longer "
                                                "than the slave's slowest period"),
        (["slave.temperature_period_s=0.05"], r"slave.temperature_period_s: must not be shorter"),
        (["master.tick_period_s=0.2"], "master.tick_period_s: must be at most half"),
        (["sim.vcu.profile=[]"], "sim.vcu.profile: needs at least one step"),
        (['sim.vcu.request="fly"'], "sim.vcu.request: must be standby, drive or charge"),
        (["diagnosis.cell_overvoltage_msl.debounce_set=0"],
         "diagnosis.cell_overvoltage_msl.debounce_set: must be >= 1"),
        (['bus.pack={interface="udp_multicast", channel="10.0.0.1", hop_limit=0}'],
         "bus.pack.channel: 10.0.0.1 is not a multicast address"),
        (["bus.pack.hop_limit=1"], "bus.pack.hop_limit: must be 0 on udp_multicast"),
        # no interface: merges into the default, which is still udp_multicast
        (['bus.vehicle={channel="vcan1"}'], "bus.vehicle.channel: must be a multicast"),
        (['bus.pack={interface="socketcan"}'], "bus.pack.channel: required"),
        (["pack.modulez=3"], "pack.modulez: unknown key"),
    ],
)
def test_bad_settings_are_refused_with_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, overrides)


def test_partial_bus_table_changes_only_its_keys() -> None:
    settings = load_settings(None, ["bus.pack.port=45000"])
    assert bus_kwargs(settings, "pack")["port"] == 45000
    assert bus_kwargs(settings, "pack")["interface"] == "udp_multicast"


def test_bus_table_with_an_interface_replaces_the_default() -> None:
    settings = load_settings(None, ['bus.pack={interface="socketcan", channel="can0"}'])
    assert bus_kwargs(settings, "pack") == {"interface": "socketcan", "channel": "can0"}


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pack.toml"
    path.write_text("[pack]\nmodules = 'eight'\n")
    with pytest.raises(ConfigError, match=r"pack.toml: pack.modules: expected an integer"):
        load_settings(path)


@pytest.mark.parametrize("path", sorted((REPO / "deploy" / "packs").glob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_example_configs_load(path: Path) -> None:
    assert isinstance(load_settings(path), Settings)


def test_the_default_example_equals_the_built_in_defaults() -> None:
    assert load_settings(REPO / "deploy" / "packs" / "virtual-8x16-nmc.toml") == Settings()


def test_the_default_example_is_what_bms_config_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["config"]) == 0
    example = (REPO / "deploy" / "packs" / "virtual-8x16-nmc.toml").read_text()
    header, _, body = example.partition("\n\n")
    assert header.startswith("# The built-in virtual pack")
    assert body == capsys.readouterr().out, "regenerate it with bms config"


def test_time_scale_stretches_every_period_and_timeout() -> None:
    normal, slow = load_settings(), load_settings(None, ["pack.time_scale=4"])
    assert slow.slave.measurement_period_s == pytest.approx(0.4)
    assert slow.master.slave_lost_timeout_s == pytest.approx(4 * normal.master.slave_lost_timeout_s)
    assert slow.contactors.precharge_timeout_s == pytest.approx(8.0)
    assert slow.sim.current_sensor.current_period_s == pytest.approx(0.04)
    assert slow.sim.vcu.start_delay_s == pytest.approx(8.0)
    assert slow.sim.cells == normal.sim.cells  # physics is not stretched
    assert slow.master.e2e_max_lost_frames == normal.master.e2e_max_lost_frames
