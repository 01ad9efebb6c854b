"""Our register layout held to the SunSpec model definitions (the JSON that pysunspec2
ships: an independent copy of the SunSpec Alliance's models)."""

from __future__ import annotations

from typing import Any

import pytest
from sunspec2 import device

from sunspec.models import MODELS, Model, Point


def _definition(point: dict[str, Any]) -> Point:
    from sunspec.models import PointType

    return Point(point["name"], PointType(point["type"]), point["size"], point.get("sf"),
                 point.get("units", ""), point.get("access") == "RW",
                 point.get("mandatory") == "M")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: str(m.id))
def test_every_point_is_the_definitions(model: Model) -> None:
    group = device.get_model_def(model.id)["group"]
    header, points = group["points"][:2], group["points"][2:]
    assert [p["name"] for p in header] == ["ID", "L"]
    assert header[0]["value"] == model.id
    assert group["name"] == model.name
    assert tuple(_definition(p) for p in points) == model.points
    repeating = group.get("groups", [])
    if model.group is None:
        assert repeating == []
    else:
        [definition] = repeating
        assert (definition["name"], definition["count"]) == (model.group.name, model.group.count)
        assert tuple(_definition(p) for p in definition["points"]) == model.group.points


def test_the_lengths_are_the_known_ones() -> None:
    # model 1 is 66 registers long, 802 62; 803 26 and a string of 32, 804 46 and a module
    # of 16 (the lengths the SunSpec model tables publish)
    assert [m.length() for m in MODELS[:2]] == [66, 62]
    assert MODELS[2].length(1) == 26 + 32
    assert MODELS[3].length(8) == 46 + 8 * 16
