"""The AFE's noise is `random.gauss`'s sequence, draw for draw."""

import random

import pytest

from sim.noise import GaussNoise


@pytest.mark.parametrize("seed", ["0:3:noise", "42:0:noise", 7])
def test_the_same_values_as_random_gauss(seed: object) -> None:
    reference, ours = random.Random(seed), GaussNoise(random.Random(seed))  # type: ignore[arg-type]
    sigmas = [0.0, 2.0, 0.3, 1e-3, 5.0]
    for n in range(20_001):  # odd: a pair's second value is pending at the end
        mu, sigma = (n % 7) * 0.5, sigmas[n % len(sigmas)]
        assert ours.gauss(mu, sigma) == reference.gauss(mu, sigma), n
