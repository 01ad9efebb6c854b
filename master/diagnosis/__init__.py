"""Diagnosis: checks report observations, a table decides tier, debounce, severity and
reaction (as in foxBMS 2: checks apart from reactions, both table-driven)."""
