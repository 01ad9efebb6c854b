"""Readings that flip between two sets (a forger's frame after each genuine one, two slaves
on one module id) make the module flipping; noise, a spike and current steps do not."""

import random

from master.diagnosis.flipping_readings import FLIPS_IN_WINDOW, WINDOW_FRAMES, FlippingReadings

GENUINE = (3700, 3702, 3699, 3701)


def noisy(rng: random.Random, cells: tuple[int, ...], spread_mv: int = 3) -> tuple[int, ...]:
    return tuple(v + rng.randint(-spread_mv, spread_mv) for v in cells)


def test_a_forged_cell_in_every_other_frame_is_flipping() -> None:
    rng = random.Random(1)
    check = FlippingReadings(1, 30.0)
    forged = (3700, 3702, 3699, 4320)
    verdicts = [check.observe(0, 0, noisy(rng, forged if n % 2 else GENUINE)) for n in range(20)]
    # the first flip needs three frames; then every frame flips
    assert verdicts.index(True) == 2 + FLIPS_IN_WINDOW - 1
    assert all(verdicts[2 + FLIPS_IN_WINDOW - 1:])


def test_two_modules_on_one_id_interleaved_are_flipping() -> None:
    rng = random.Random(2)
    check = FlippingReadings(1, 30.0)
    other = (3712, 3650, 3705, 3690)  # the other module's pattern: 50 mV off at cell 1
    assert any(check.observe(0, 0, noisy(rng, other if n % 2 else GENUINE)) for n in range(16))


def test_current_steps_move_every_cell_and_are_not_flips() -> None:
    check = FlippingReadings(1, 30.0)
    # a load pulsing at the frame rate: +-150 mV on every cell at once, every frame
    for n in range(100):
        step = 150 if n % 2 else 0
        assert not check.observe(0, 0, tuple(v - step for v in GENUINE))


def test_noise_and_a_single_spike_are_not_flipping() -> None:
    rng = random.Random(3)
    check = FlippingReadings(1, 30.0)
    for n in range(200):
        cells = noisy(rng, GENUINE, 5)
        if n == 50:
            cells = (cells[0] + 200, *cells[1:])  # one disturbed reading
        assert not check.observe(0, 0, cells)


def test_flips_leave_the_window() -> None:
    check = FlippingReadings(1, 30.0)
    forged = (3700, 3702, 3699, 4000)
    assert [check.observe(0, 0, forged if n % 2 else GENUINE) for n in range(8)][-1]
    calm = [check.observe(0, 0, GENUINE) for _ in range(WINDOW_FRAMES)]
    assert calm[0]
    assert not calm[-1]


def test_invalid_cells_are_passed_over_and_zero_turns_it_off() -> None:
    check = FlippingReadings(2, 30.0)
    # one valid cell in the group: a flip cannot be told from a current step
    assert not any(check.observe(0, 0, (None, None, None, 4000 if n % 2 else 3700))
                   for n in range(40))
    assert any(check.observe(1, 0, (None, 3700, None, 4000 if n % 2 else 3700))
               for n in range(40))
    off = FlippingReadings(1, 0.0)
    assert not any(off.observe(0, 0, (3700, 3700, 3700, 4320 if n % 2 else 3700))
                   for n in range(40))
