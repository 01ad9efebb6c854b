"""The C source for microcontroller slaves: generated from the DBC, compiled with the system
C compiler, and producing the very frames the Python slave sends."""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from dbc.c_source import generate_c_source
from dbc.codec import pack_codec
from dbc.database import PACK_DBC, dbc_path
from dbc.frames import CellVoltages

REPO = Path(__file__).resolve().parents[2]
MCU = REPO / "deploy" / "mcu"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc, gcc or clang) on PATH")


@pytest.fixture(scope="module")
def example_slave(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CC is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH")
    out = tmp_path_factory.mktemp("mcu")
    _, source = generate_c_source(out)
    binary = out / "example_slave"
    subprocess.run([CC, *STRICT, f"-I{out}", f"-I{MCU}", str(source), str(MCU / "bms_e2e.c"),
                    str(MCU / "example_slave.c"), "-o", str(binary)], check=True)
    return binary


def test_generation_is_reproducible_and_names_its_dbc(tmp_path: Path) -> None:
    first = generate_c_source(tmp_path / "a")
    second = generate_c_source(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    digest = hashlib.sha256(dbc_path(PACK_DBC).read_bytes()).hexdigest()[:16]
    header = first[0].read_text()
    assert f"from pack.dbc (sha256 {digest})" in header
    assert "PACK_CELL_VOLTAGES_FRAME_ID" in header


@needs_cc
def test_generated_code_compiles_without_floating_point(tmp_path: Path) -> None:
    _, source = generate_c_source(tmp_path, floating_point_numbers=False)
    assert "_encode(double" not in source.read_text()  # no physical-value helpers
    subprocess.run([CC or "cc", *STRICT, "-c", str(source), "-o", str(tmp_path / "pack.o")],
                   check=True)


def test_e2e_vectors_in_c(example_slave: Path) -> None:
    result = subprocess.run([example_slave, "--self-test"], capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "OK")


def test_c_frames_equal_the_python_slaves(example_slave: Path) -> None:
    rng = random.Random(7)
    codec = pack_codec()
    for _ in range(40):
        module_id, group, counter = rng.randrange(32), rng.randrange(5), rng.randrange(15)
        cells_mv = tuple(rng.randrange(500, 4596) for _ in range(4))
        expected = codec.encode(CellVoltages(4 * group, cells_mv), module_id, counter)
        result = subprocess.run([example_slave, str(module_id), str(group), str(counter),
                                 *map(str, cells_mv)], capture_output=True, text=True,
                                check=True)
        assert result.stdout.strip() == \
            f"{expected.arbitration_id:03X}#{expected.data.hex().upper()}"


def test_c_refuses_a_voltage_the_frame_cannot_carry(example_slave: Path) -> None:
    result = subprocess.run([example_slave, "0", "0", "0", "3700", "3700", "3700", "4600"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "out of the frame's range" in result.stderr
