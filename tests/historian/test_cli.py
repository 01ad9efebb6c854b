"""`bms historian`'s refusals: a bad broker address or period, before anything connects."""

from __future__ import annotations

import pytest

from bms.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["--broker", "nohost"], "HOST:PORT"),
    (["--broker", "127.0.0.1:x"], "HOST:PORT"),
    (["--cells-every-s", "-1"], "must not be negative"),
    (["--retention-days", "0"], "retention positive"),
])
def test_bad_arguments_exit_2_and_say_why(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["historian", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_store_is_postgresql_or_sqlite_never_both(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["historian", "--postgres", "dbname=x", "--sqlite", "x.sqlite"])
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
