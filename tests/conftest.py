"""Make the shared test helpers (``parity``, ``op_db``) importable from every test module
(pytest runs with ``--import-mode=importlib``, which does not put ``tests/`` on the path)."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
