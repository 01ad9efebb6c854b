"""Turns TOML tables into frozen, typed settings dataclasses, refusing anything unexpected.

Each field's type comes from its annotation; bounds come from `setting(...)` metadata (for an
array, on each element); a number is finite (NaN and infinity are refused everywhere);
cross-field rules raise `InvalidSettingError` from ``__post_init__``. Every error names the full key
(``master.slave_lost_timeout_s``) and the reason.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import stat
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bms.errors import ConfigError

T = TypeVar("T")
Scalar = str | int | float | bool


class InvalidSettingError(ValueError):
    """Raised by settings classes: ``key`` is relative to the table being loaded."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def setting(default: Any, *, minimum: float | None = None, maximum: float | None = None,
            above: float | None = None, doc: str = "") -> Any:
    """A settings field with a default, optional bounds and a one-line description."""
    metadata = {"minimum": minimum, "maximum": maximum, "above": above, "doc": doc}
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple or a default_factory for collection defaults")
    return dataclasses.field(default=default, metadata=metadata)


def load(cls: type[T], data: Mapping[str, Any], path: str = "") -> T:
    """Build settings class ``cls`` from a TOML table (missing keys take their defaults)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'top level'}: expected a table, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{_join(path, unknown[0])}: unknown key (expected one of: {', '.join(fields)})"
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = _join(path, name)
        converted = _convert(hints[name], value, key)
        _check_bounds(fields[name].metadata, converted, key)
        values[name] = converted
    try:
        return cls(**values)
    except InvalidSettingError as exc:
        raise ConfigError(f"{_join(path, exc.key)}: {exc.reason}") from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: invalid value {value!r}")
    if dataclasses.is_dataclass(hint):
        return load(hint, value, key)  # type: ignore[arg-type]
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected an array, got {_kind(value)}")
        return tuple(_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table, got {_kind(value)}")
        (_key_type, item_type) = typing.get_args(hint)
        if dataclasses.is_dataclass(item_type):
            return {name: load(item_type, item, f"{key}.{name}")  # type: ignore[arg-type]
                    for name, item in value.items()}
        for name, item in value.items():
            if not isinstance(item, (str, int, float, bool)):
                raise ConfigError(f"{key}.{name}: expected a string, number or boolean")
            if isinstance(item, float):
                _finite(item, f"{key}.{name}")
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        names = [m.value for m in hint]
        for member in hint:
            if isinstance(value, str) and value.lower() == str(member.value).lower():
                return member
        raise ConfigError(f"{key}: expected one of {names}, got {value!r}")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return _finite(float(value), key)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_kind(value)}")
        return value
    raise TypeError(f"{key}: unsupported settings type {hint!r}")


def _finite(value: float, key: str) -> float:
    """NaN compares false with every bound, and infinity passes every open one: neither is
    a setting (a NaN limit would never be crossed, a NaN delay never run out)."""
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, got {value}")
    return value


def _check_bounds(metadata: Mapping[str, Any], value: Any, key: str) -> None:
    if isinstance(value, tuple):  # an array: each element within the bounds
        for i, item in enumerate(value):
            _check_bounds(metadata, item, f"{key}[{i}]")
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    minimum, maximum = metadata.get("minimum"), metadata.get("maximum")
    above = metadata.get("above")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{key}: must be <= {maximum}, got {value}")
    if above is not None and value <= above:
        raise ConfigError(f"{key}: must be > {above}, got {value}")


MAX_CONFIG_BYTES = 1024 * 1024  # a pack file is a few kB: anything larger is not one


def read_toml(path: Path) -> dict[str, Any]:
    """A configuration file's tables; ConfigError for anything that is not a readable,
    regular TOML file of at most MAX_CONFIG_BYTES (a FIFO would block, /dev/zero never end)."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path}: not a regular file")
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (TOML is UTF-8): {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a pack configuration") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (value in TOML syntax, bare words as strings)."""
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {override!r}: expected KEY=VALUE, e.g. pack.modules=4")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        except RecursionError:
            raise ConfigError(f"override {key.strip()}: nested too deeply") from None
        table = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(f"override {override!r}: {part} is not a table")
        table[parts[-1]] = value
    return data


def describe(cls: type, path: str = "") -> list[tuple[str, str, str]]:
    """(key, default, doc) for every setting, for `bms config --defaults`-style help."""
    rows: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        key = _join(path, field.name)
        if dataclasses.is_dataclass(hints[field.name]):
            rows += describe(hints[field.name], key)
            continue
        default = field.default if field.default is not dataclasses.MISSING else (
            field.default_factory() if field.default_factory is not dataclasses.MISSING else ""
        )
        shown = default.value if isinstance(default, enum.Enum) else default
        rows.append((key, repr(shown), str(field.metadata.get("doc", ""))))
    return rows
