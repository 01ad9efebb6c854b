"""The docs' tables that restate the code, held to it."""

from __future__ import annotations

import re
from pathlib import Path

from master.diagnosis.table import DEFAULT_TABLE
from master.telemetry.home_assistant import ENTITIES

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_diagnosis_table_of_the_docs_is_the_codes() -> None:
    row = r"^\| (\d+) \| `([a-z_0-9]+)` \| \w+ \| (\w+) \| (\d+) / (\d+) \|\s*(yes)?\s*\|$"
    rows = re.findall(row, (DOCS / "protection.md").read_text(), re.MULTILINE)
    documented = {name: (int(code), severity, int(up), int(down), bool(latching))
                  for code, name, severity, up, down, latching in rows}
    actual = {entry.name.lower(): (entry.value, spec.severity.name.lower(), spec.debounce_set,
                                   spec.debounce_clear, spec.latching)
              for entry, spec in DEFAULT_TABLE.items()}
    assert documented == actual


def test_the_home_assistant_entities_of_the_docs_are_the_codes() -> None:
    row = (r"^\| `([a-z_]+)` \| ([^|]+) \| `homeassistant/(\w+)/<node>/\1/config` \| (\S+) \| "
           r"(\S+) \| (\S+) \| [^|]+ \|$")
    rows = re.findall(row, (DOCS / "home-assistant.md").read_text(), re.MULTILINE)
    actual = [(e.key, e.name, e.component, e.device_class or "-", e.unit or "-",
               e.state_class or "-") for e in ENTITIES]
    assert rows == actual
