"""The cell models that ship with the project (``cells/data/``), found by name."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def shipped() -> list[str]:
    """The names of the shipped cells."""
    return sorted(p.stem for p in DATA.glob("*.toml"))


def cell_path(name_or_path: str) -> Path:
    """A shipped cell's file by name (``lg-m50``), else the path as given."""
    if not name_or_path.endswith(".toml") and "/" not in name_or_path:
        path = DATA / f"{name_or_path}.toml"
        if path.exists():
            return path
        from cells.model import CellFileError

        raise CellFileError(f"no shipped cell {name_or_path!r}: one of "
                            f"{', '.join(shipped()) or 'none'}, or give a file (.toml)")
    return Path(name_or_path)
