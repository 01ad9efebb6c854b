"""The settings loader refuses anything unexpected and names the key."""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bms.config_loader import InvalidSettingError, apply_overrides, load, read_toml, setting
from bms.errors import ConfigError
from bms.settings import Chemistry


@dataclass(frozen=True)
class Inner:
    ratio: float = setting(0.5, minimum=0.0, maximum=1.0)
    count: int = setting(3, above=0)


@dataclass(frozen=True)
class Outer:
    name: str = setting("x")
    flag: bool = setting(False)
    chemistry: Chemistry = setting(Chemistry.NMC)
    inner: Inner = field(default_factory=Inner)
    items: tuple[Inner, ...] = ()
    extra: dict[str, str | int | float | bool] = field(default_factory=dict)
    optional: float | None = setting(None)
    low: float = setting(1.0)
    high: float = setting(2.0)

    def __post_init__(self) -> None:
        if self.high <= self.low:
            raise InvalidSettingError("high", "must be above low")


def test_defaults_when_empty() -> None:
    assert load(Outer, {}) == Outer()


def test_values_are_converted() -> None:
    loaded = load(Outer, {"inner": {"ratio": 1}, "chemistry": "lfp", "items": [{"count": 4}],
                          "extra": {"a": 1}, "optional": 2})
    assert loaded.inner.ratio == 1.0
    assert isinstance(loaded.inner.ratio, float)
    assert loaded.chemistry is Chemistry.LFP
    assert loaded.items == (Inner(count=4),)
    assert loaded.extra == {"a": 1}
    assert loaded.optional == 2.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nmae": "x"}, "nmae: unknown key"),
        ({"inner": {"ratio": 1.5}}, "inner.ratio: must be <= 1.0, got 1.5"),
        ({"inner": {"ratio": -1}}, "inner.ratio: must be >= 0.0"),
        ({"inner": {"count": 0}}, "inner.count: must be > 0"),
        ({"inner": {"count": 1.5}}, "inner.count: expected an integer"),
        ({"inner": {"count": True}}, "inner.count: expected an integer"),
        ({"inner": 3}, "inner: expected a table"),
        ({"flag": "yes"}, "flag: expected true or false"),
        ({"name": 3}, "name: expected a string"),
        ({"chemistry": "NiMH"}, "chemistry: expected one of .*'LFP'"),
        ({"items": [{"count": -1}]}, r"items\[0\].count: must be > 0"),
        ({"items": {"count": 1}}, "items: expected an array"),
        ({"extra": {"a": [1]}}, "extra.a: expected a string, number or boolean"),
        ({"low": 3.0}, "high: must be above low"),
        ({"optional": "x"}, "optional: expected a number"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(Outer, data)


def test_overrides_parse_toml_values_and_create_tables() -> None:
    data = apply_overrides({}, ["a.b=3", "a.c=true", "a.d=hello", 'a.e="quoted"', "f=[1, 2]"])
    assert data == {"a": {"b": 3, "c": True, "d": "hello", "e": "quoted"}, "f": [1, 2]}


@pytest.mark.parametrize("override", ["novalue", "=3"])
def test_malformed_override(override: str) -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, [override])


def test_override_through_a_scalar_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a table"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_read_toml_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        read_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[pack\nmodules = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(bad)


@pytest.mark.parametrize(("make", "problem"), [
    (lambda d: Path("/dev/zero"), "not a regular file"),
    (lambda d: (os.mkfifo(d / "fifo"), d / "fifo")[1], "not a regular file"),
    (lambda d: (d / "bin.toml", (d / "bin.toml").write_bytes(b"[pack]\nname = \"\xff\xfe\"\n"))[0],
     "not UTF-8"),
    (lambda d: (d / "deep.toml", (d / "deep.toml").write_text(
        "a = " + "[" * 50_000 + "]" * 50_000))[0], "nested too deeply"),
    (lambda d: (d / "big.toml", (d / "big.toml").write_text("# x\n" * 300_000))[0],
     "larger than"),
    (lambda d: d, "not a regular file"),
])
def test_a_file_that_is_no_configuration_is_refused_plainly(tmp_path: Path, make,  # type: ignore[no-untyped-def]
                                                            problem: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=problem):
        read_toml(path)
    result = subprocess.run([sys.executable, "-m", "bms", "config", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_a_deeply_nested_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        apply_overrides({}, ["pack.name=" + "[" * 50_000 + "]" * 50_000])
