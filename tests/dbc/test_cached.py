"""The cached form of the DBC files: what cantools parses, read back without cantools; an
edited file is parsed anew, a broken cache is passed over."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dbc import cached
from dbc.cached import DatabaseForm, cache_path, form_of, from_json, load_form, to_json
from dbc.codec import Codec, inverter_codec, pack_codec, sim_codec, vehicle_codec
from dbc.database import (
    ALL_DBCS,
    INVERTER_DBCS,
    PACK_BUS_DBCS,
    SIM_BUS_DBCS,
    VEHICLE_BUS_DBCS,
    dbc_path,
    load_database,
)
from dbc.frames import PACK_FRAME_TYPES
from dbc.ivt import IVT_FRAME_TYPES
from tests.dbc.samples import INVERTER_SAMPLES, SAMPLES, SIM_SAMPLES, VEHICLE_SAMPLES

SIGNAL_ATTRIBUTES = ("name", "start", "length", "byte_order", "is_signed", "is_float", "scale",
                     "offset", "minimum", "maximum", "unit", "is_multiplexer", "receivers")


@pytest.mark.parametrize("name", ALL_DBCS)
def test_the_form_holds_what_cantools_parsed(name: str) -> None:
    db = load_database(name)
    form = from_json(to_json(form_of(db)))  # through its JSON, as a later start reads it
    assert form.frame_id_mask == (db._frame_id_mask or 0x1FFFFFFF)
    assert [m.name for m in form.messages] == [m.name for m in db.messages]
    for message, reference in zip(form.messages, db.messages, strict=True):
        assert (message.frame_id, message.is_extended_frame, message.length,
                message.cycle_time, message.senders) == \
            (reference.frame_id, reference.is_extended_frame, reference.length,
             reference.cycle_time, list(reference.senders))
        assert len(message.signals) == len(reference.signals)
        for signal, expected in zip(message.signals, reference.signals, strict=True):
            for attribute in SIGNAL_ATTRIBUTES:
                assert getattr(signal, attribute) == getattr(expected, attribute), \
                    f"{message.name}.{signal.name}.{attribute}"
            assert signal.multiplexer_ids == expected.multiplexer_ids
            assert signal.choices == (None if expected.choices is None else
                                      {int(k): str(v) for k, v in expected.choices.items()})


@pytest.mark.parametrize(("bus", "names", "samples", "codec"), [
    ("pack", PACK_BUS_DBCS, SAMPLES, pack_codec),
    ("vehicle", VEHICLE_BUS_DBCS, VEHICLE_SAMPLES, vehicle_codec),
    ("sim", SIM_BUS_DBCS, SIM_SAMPLES, sim_codec),
    *((f"inverter:{protocol}", (name,), INVERTER_SAMPLES[protocol],
       lambda protocol=protocol: inverter_codec(protocol))
      for protocol, name in INVERTER_DBCS.items()),
])
def test_a_codec_from_the_form_equals_one_from_cantools(bus, names, samples, codec) -> None:  # type: ignore[no-untyped-def]
    frame_types = {type(frame) for frame, _ in samples}
    if bus == "pack":
        frame_types |= set(PACK_FRAME_TYPES + IVT_FRAME_TYPES)
    reference = Codec([load_database(name) for name in names], list(frame_types))
    assert isinstance(cached.cached_database(names[0]), DatabaseForm)
    for frame, module in samples:
        for counter in (0, 7):
            encoded = codec().encode(frame, module, counter)
            assert encoded == reference.encode(frame, module, counter)
            assert codec().decode(encoded).frame == reference.decode(encoded).frame
    for name, layout in codec().layouts.items():
        other = reference.layout(name)
        assert (layout.base_id, layout.module_id_range, layout.cycle_time_s, layout.receivers,
                layout.e2e_protected, layout.multiplexer) == \
            (other.base_id, other.module_id_range, other.cycle_time_s, other.receivers,
             other.e2e_protected, other.multiplexer)


def test_the_second_load_reads_the_cache(tmp_path: Path) -> None:
    path = dbc_path("pack.dbc")
    first = load_form(path, tmp_path)
    written = cache_path(path, tmp_path)
    assert written.exists()
    written.write_text(json.dumps({**json.loads(written.read_text()), "frame_id_mask": 5}))
    assert load_form(path, tmp_path).frame_id_mask == 5  # read from the file, not parsed
    assert first.frame_id_mask != 5


def test_an_edited_dbc_file_is_parsed_anew(tmp_path: Path) -> None:
    edited = tmp_path / "pack.dbc"
    shutil.copy(dbc_path("pack.dbc"), edited)
    cache = tmp_path / "cache"
    before = load_form(edited, cache)
    text = edited.read_text(encoding="latin-1")
    assert 'BA_ "GenMsgCycleTime" BO_ 1536 200;' in text
    edited.write_text(text.replace('BA_ "GenMsgCycleTime" BO_ 1536 200;',
                                   'BA_ "GenMsgCycleTime" BO_ 1536 250;'), encoding="latin-1")
    after = load_form(edited, cache)
    cycle = {m.frame_id: m.cycle_time for m in after.messages}
    assert cycle[1536] == 250
    assert {m.frame_id: m.cycle_time for m in before.messages}[1536] == 200
    assert len(list(cache.iterdir())) == 2


def test_a_broken_cache_file_is_passed_over_and_rewritten(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = dbc_path("sim.dbc")
    expected = form_of(load_database("sim.dbc"))
    written = cache_path(path, tmp_path)
    written.write_text('{"version": 1, "messages": [{"name": 3}]')
    with caplog.at_level(logging.WARNING):
        assert load_form(path, tmp_path) == expected
    assert "passed over" in caplog.text
    assert from_json(written.read_text()) == expected
    written.write_text(to_json(expected).replace('"version":1', '"version":0'))
    assert load_form(path, tmp_path) == expected  # another version: parsed, not read


def test_an_unwritable_cache_still_loads(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    assert load_form(dbc_path("sim.dbc"), blocked / "cache") == form_of(load_database("sim.dbc"))


def test_off_parses_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cached.CACHE_VARIABLE, "off")
    assert cached.cache_dir() is None


def test_a_node_starts_without_cantools(tmp_path: Path) -> None:
    """A slave's and a master's imports and codecs, in a new process with a filled cache."""
    code = ("import sys; import slave.service, master.service; "
            "from dbc.codec import pack_codec, sim_codec, vehicle_codec; "
            "pack_codec(); sim_codec(); vehicle_codec(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cantools'))")
    env = {**os.environ, cached.CACHE_VARIABLE: str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True, timeout=120).stdout.strip() for _ in range(2)]
    assert runs[0] != "[]"  # the first one parsed (and filled the cache) ...
    assert runs[1] == "[]"  # ... the next one read it
