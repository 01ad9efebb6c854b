"""The DBC files as the running nodes need them, read without cantools.

Parsing a DBC file takes cantools (its import and the parse cost a node's start-up more than
all it does before its first frame; about 18 times more in an emulated guest). The first
process that loads a DBC file parses it with cantools (`dbc.database`) and writes what the
codec reads of it (messages, signals, the frame-id mask) as JSON into a cache folder, under
the SHA-256 of the file's bytes and this form's version; every later start reads that JSON
back. The DBC file stays the only source: an edited file has another digest, so its old
cached form is never read. A cache that cannot be read or written is passed over (the
process parses with cantools, as it would without one).

The cache folder: ``$BMS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/pybms`` or
``~/.cache/pybms``; ``BMS_CACHE_DIR=off`` parses every time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CACHE_VARIABLE = "BMS_CACHE_DIR"


@dataclass(frozen=True, slots=True)
class SignalForm:
    """One signal, with the attribute names cantools' `Signal` has."""

    name: str
    start: int
    length: int
    byte_order: str  # "little_endian" or "big_endian"
    is_signed: bool
    is_float: bool
    scale: float | int
    offset: float | int
    minimum: float | int | None
    maximum: float | int | None
    unit: str | None
    choices: dict[int, str] | None
    is_multiplexer: bool
    multiplexer_ids: list[int] | None
    receivers: list[str]


@dataclass(frozen=True, slots=True)
class MessageForm:
    """One message, with the attribute names cantools' `Message` has (and its module span,
    the ``ModuleIdRange`` attribute, which cantools keeps among the DBC attributes)."""

    name: str
    frame_id: int
    is_extended_frame: bool
    length: int
    cycle_time: int | None
    senders: list[str]
    signals: list[SignalForm]
    module_id_range: int


@dataclass(frozen=True, slots=True)
class DatabaseForm:
    messages: list[MessageForm]
    frame_id_mask: int


def form_of(db: Any) -> DatabaseForm:
    """The form of a database cantools loaded (`dbc.database.load_file`)."""
    from dbc.database import module_id_range

    return DatabaseForm(
        messages=[MessageForm(
            name=m.name, frame_id=m.frame_id, is_extended_frame=m.is_extended_frame,
            length=m.length, cycle_time=m.cycle_time, senders=list(m.senders),
            signals=[SignalForm(
                name=s.name, start=s.start, length=s.length, byte_order=s.byte_order,
                is_signed=s.is_signed, is_float=s.is_float, scale=s.scale, offset=s.offset,
                minimum=s.minimum, maximum=s.maximum, unit=s.unit,
                choices=None if s.choices is None else
                {int(raw): str(label) for raw, label in s.choices.items()},
                is_multiplexer=s.is_multiplexer,
                multiplexer_ids=None if s.multiplexer_ids is None else
                [int(i) for i in s.multiplexer_ids],
                receivers=list(s.receivers)) for s in m.signals],
            module_id_range=module_id_range(m)) for m in db.messages],
        frame_id_mask=frame_id_mask(db))


def frame_id_mask(db: Any) -> int:
    """The mask applied to an id before lookup (a cantools database or a form)."""
    if isinstance(db, DatabaseForm):
        return db.frame_id_mask
    return int(db._frame_id_mask) if db._frame_id_mask is not None else 0x1FFFFFFF


def to_json(form: DatabaseForm) -> str:
    return json.dumps({"version": FORMAT_VERSION, **asdict(form)}, separators=(",", ":"))


def from_json(text: str) -> DatabaseForm:
    raw = json.loads(text)
    if raw.get("version") != FORMAT_VERSION:
        raise ValueError(f"cached form version {raw.get('version')!r}, not {FORMAT_VERSION}")
    messages = []
    for m in raw["messages"]:
        signals = [SignalForm(**{**s, "choices": None if s["choices"] is None else
                                 {int(k): v for k, v in s["choices"].items()}})
                   for s in m["signals"]]
        messages.append(MessageForm(**{**m, "signals": signals}))
    return DatabaseForm(messages, int(raw["frame_id_mask"]))


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return None if configured == "off" else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybms"


def cache_path(path: Path, directory: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    return directory / f"{path.stem}-v{FORMAT_VERSION}-{digest}.json"


def load_form(path: Path, directory: Path | None) -> DatabaseForm:
    """The form of the DBC file at ``path``: from the cache in ``directory`` when it holds
    this file's digest, else parsed by cantools (and cached)."""
    try:
        if directory is None:
            return _parse(path)
        cached = cache_path(path, directory)
    except OSError:  # the DBC file itself cannot be read: cantools says so
        return _parse(path)
    try:
        return from_json(cached.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable or not ours
        log.warning("DBC cache %s passed over: %s", directory, exc)
    form = _parse(path)
    _write(cached, to_json(form))
    return form


def _parse(path: Path) -> DatabaseForm:
    from dbc.database import load_file

    return form_of(load_file(path))


def _write(target: Path, text: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=".tmp-", delete=False,
                                         encoding="utf-8") as out:
            out.write(text)
        os.replace(out.name, target)
    except OSError as exc:  # a read-only home: every start parses, nothing else changes
        log.debug("DBC cache not written (%s): %s", target, exc)


@functools.cache
def cached_database(name: str) -> DatabaseForm:
    """A shipped DBC file by name in its cached form, loaded once per process."""
    from dbc.database import dbc_path

    return load_form(dbc_path(name), cache_dir())
