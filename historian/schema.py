"""The historian's tables, one per telemetry topic: the columns after (pack, t), their types
in PostgreSQL and SQLite, and each table's key (what a resend repeats)."""

from __future__ import annotations

REAL, INT, TEXT, BOOL = "double precision", "integer", "text", "boolean"

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "state": (("state", TEXT), ("contactors_closed", BOOL), ("voltage_v", REAL),
              ("current_a", REAL), ("power_kw", REAL), ("soc_pct", REAL), ("soc_min_pct", REAL),
              ("soc_max_pct", REAL), ("soc_sigma_pct", REAL), ("soe_kwh", REAL),
              ("soh_pct", REAL), ("faults", TEXT), ("warnings", TEXT), ("fault_reason", INT),
              ("modules_online", INT)),
    "cells": (("modules", INT), ("cells_per_module", INT), ("cell_min_mv", REAL),
              ("cell_max_mv", REAL), ("cell_spread_mv", REAL), ("temperature_min_degc", REAL),
              ("temperature_max_degc", REAL), ("voltages_mv", TEXT),
              ("temperatures_degc", TEXT), ("balancing_masks", TEXT)),
    "limits": (("charge_a", REAL), ("discharge_a", REAL), ("charge_kw", REAL),
               ("discharge_kw", REAL), ("voltage_max_v", REAL), ("voltage_min_v", REAL),
               ("charge_limiter", TEXT), ("discharge_limiter", TEXT)),
    "events": (("id", "bigint"), ("kind", TEXT), ("entry", TEXT), ("change", TEXT),
               ("severity", TEXT), ("text", TEXT), ("module", INT), ("element", INT)),
    "online": (("online", BOOL),),
}
KEYS: dict[str, tuple[str, ...]] = {
    "state": ("pack", "t"), "cells": ("pack", "t"), "limits": ("pack", "t"),
    "events": ("pack", "id", "t"), "online": ("pack", "t")}


def names(table: str) -> list[str]:
    return ["pack", "t", *(name for name, _ in COLUMNS[table])]
