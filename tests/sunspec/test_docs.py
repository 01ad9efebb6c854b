"""docs/sunspec.md's point tables name every point of the served models, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sunspec.models import MODELS, Model

DOC = Path(__file__).resolve().parents[2] / "docs" / "sunspec.md"


def documented(model: Model) -> list[str]:
    text = DOC.read_text()
    section = text.split(f"### Model {model.id} ", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \|", section, re.MULTILINE)
    return [name for cell in rows for name in re.findall(r"`(\w+)`", cell)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: str(m.id))
def test_the_point_table_is_the_models(model: Model) -> None:
    names = documented(model)
    points = [p.name for p in (*model.points, *(model.group.points if model.group else ()))]
    assert sorted(names) == sorted(points)  # each once
