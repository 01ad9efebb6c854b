"""`bms config`: show every setting with its effective value, default and meaning."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import sys
from typing import Any

from bms.cli_common import add_config_arguments, load_or_explain
from bms.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config", help="show the effective pack configuration and what each key means",
        description="Print the effective configuration (file + --set overrides) as TOML, "
                    "each key with its meaning. Exit 2 if the configuration is refused.")
    add_config_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bms.config_loader import describe
    from bms.settings import Settings

    settings = load_or_explain(args)
    if settings is None:
        return 2
    docs = {key: doc for key, _, doc in describe(Settings)}
    from master.endpoints import inverter_problem

    try:
        resolved = _resolved_limits(settings)
        refused = inverter_problem(settings)
    except ConfigError as exc:
        refused = str(exc)
    if refused is not None:
        print(f"configuration error: {refused}", file=sys.stderr)
        return 2
    for key, value in resolved.items():
        docs.setdefault(f"limits.{key}", "")
        docs[f"limits.{key}"] = f"unset: {settings.pack.chemistry.value} default {value}"
    print(_as_toml(settings, "", docs), end="")
    return 0


def _resolved_limits(settings: Any) -> dict[str, str]:
    from master.diagnosis.limits import TierLimits, resolve_limits

    resolved = {}
    limits = resolve_limits(settings)
    for field in dataclasses.fields(limits):
        value = getattr(limits, field.name)
        shown = [round(v, 2) for v in value.tiers()] if isinstance(value, TierLimits) \
            else round(value, 2)
        resolved[field.name] = str(shown)
    return resolved


def _value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if dataclasses.is_dataclass(value):
        return _value({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return repr(value)


def _as_toml(obj: Any, path: str, docs: dict[str, str]) -> str:
    scalars, tables = [], []
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        key = f"{path}.{field.name}" if path else field.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            tables.append(_as_toml(value, key, docs))
        elif isinstance(value, dict) and value and \
                all(dataclasses.is_dataclass(v) for v in value.values()):
            tables += [_as_toml(v, f"{key}.{name}", docs) for name, v in value.items()]
        elif isinstance(value, dict) and value:
            body = "".join(f"{k} = {_value(v)}\n" for k, v in value.items())
            tables.append(f"[{key}]\n{body}\n")
        elif isinstance(value, dict):
            tables.append(f"# [{key}.<entry>] overrides: none\n\n")
        elif value is None:
            doc = docs.get(key, "unset")
            scalars.append(f"# {field.name} = ...  # {doc}")
        else:
            doc = docs.get(key, "")
            scalars.append(f"{field.name} = {_value(value)}" + (f"  # {doc}" if doc else ""))
    head = f"[{path}]\n" + "\n".join(scalars) + "\n\n" if path and scalars else ""
    return head + "".join(tables)
