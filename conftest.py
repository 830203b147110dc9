"""Import the package once before pytest collects its modules for doctests, so that
``--import-mode=importlib`` re-imports cannot rebind names such as ``nnlab.tensor``."""

import matplotlib

matplotlib.use("Agg")

import nnlab  # noqa: E402,F401
