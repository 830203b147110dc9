"""Random number generation with one seed for everything.

``nnlab.manual_seed(s)`` seeds the default generator, which initialisation, dropout,
shuffling and augmentation all draw from unless they are handed their own
:class:`Generator`. A generator's state can be saved and restored, so a resumed run
draws the same numbers as one that never stopped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Generator",
    "manual_seed",
    "default_generator",
    "seed",
    "get_rng_state",
    "set_rng_state",
]


class Generator:
    """A seeded source of random numbers (PCG64 underneath).

    Example:
        >>> g = Generator().manual_seed(0)
        >>> a = g.numpy.standard_normal(3)
        >>> b = Generator().manual_seed(0).numpy.standard_normal(3)
        >>> bool((a == b).all())
        True
    """

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(0 if seed is None else seed)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed in place and return self (as ``torch.Generator.manual_seed``). As torch,
        a negative seed is taken modulo 2⁶⁴."""
        self._seed = int(seed) % 2**64
        self.numpy = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The bit generator's state, a JSON-serialisable dict."""
        return self.numpy.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self.numpy.bit_generator.state = state


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy
