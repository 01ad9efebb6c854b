"""cantools' own parse of the shipped DBC files: the reference the codec's cached form and
its fast paths are held to."""

from typing import Any

from dbc.database import ALL_DBCS, load_database


def cantools_message(name: str) -> Any:
    """The message ``name`` as cantools loads it from whichever shipped DBC file has it."""
    for dbc in ALL_DBCS:
        for message in load_database(dbc).messages:
            if message.name == name:
                return message
    raise KeyError(name)
