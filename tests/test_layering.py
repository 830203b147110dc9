"""The library and its experiments stay in layers: ``nnlab`` never imports ``experiments``,
and the experiments use nnlab's public API only (no name that starts with an underscore).

Both are read from the source with ``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(node: ast.AST) -> list[str]:
    """The absolute module names an import statement or an ``__import__`` /
    ``importlib.import_module`` call with a constant argument brings in."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if called in ("__import__", "import_module") and isinstance(first, ast.Constant):
            return [str(first.value)]
    return []


def imports_of(path: Path, package: str) -> list[str]:
    """``file:line`` of every import of ``package`` (or one of its modules) in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hits = [
        (node.lineno, f"{path.name}:{node.lineno}")
        for node in ast.walk(tree)
        if any(name.split(".")[0] == package for name in _imported_modules(node))
    ]
    return [text for _, text in sorted(hits)]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_nnlab_uses(path: Path) -> list[str]:
    """``file:line name`` of every private nnlab name ``path`` uses: a module or name
    starting with ``_`` in an import from nnlab, or an ``_attribute`` read from a name that
    an import from nnlab bound (``nnlab.ops._broadcast``, ``nn._x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hits: list[tuple[int, str]] = []
    bound: set[str] = set()  # local names that refer to nnlab modules or objects
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nnlab":
                    bound.add(alias.asname or alias.name.split(".")[0])
                    if any(_private(part) for part in alias.name.split(".")):
                        hits.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "nnlab":
                continue
            if any(_private(part) for part in node.module.split(".")):
                hits.append((node.lineno, node.module))
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if _private(alias.name):
                    hits.append((node.lineno, f"{node.module}.{alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                hits.append((node.lineno, ast.unparse(node)))
    return [f"{path.name}:{line} {name}" for line, name in sorted(set(hits))]


def test_the_scans_find_what_they_look_for(tmp_path):
    library = tmp_path / "library.py"
    library.write_text(
        "import numpy\n"
        "def f():\n    from experiments.dates import train_dates_seq2seq\n"
        "import experiments\n"
        "import importlib\nm = importlib.import_module('experiments.char_lm')\n"
        "import experimental_things\n"
    )
    assert imports_of(library, "experiments") == [f"library.py:{n}" for n in (3, 4, 6)]
    experiment = tmp_path / "experiment.py"
    experiment.write_text(
        "import nnlab\n"
        "from nnlab import nn\n"
        "from nnlab.ops._broadcast import unbroadcast\n"
        "from nnlab.text.word2vec import _sample_noise, sample_noise\n"
        "x = nnlab.ops._broadcast\n"
        "y = nn.Module.__init__\n"
        "class A:\n    def f(self, model):\n        return self._p, model._modules\n"
        "import nnlab._malloc\n"
    )
    assert private_nnlab_uses(experiment) == [
        "experiment.py:3 nnlab.ops._broadcast",
        "experiment.py:4 nnlab.text.word2vec._sample_noise",
        "experiment.py:5 nnlab.ops._broadcast",
        "experiment.py:10 nnlab._malloc",
    ]


def test_the_library_never_imports_the_experiments():
    files = sorted((ROOT / "nnlab").rglob("*.py"))
    assert len(files) > 100
    found = [hit for path in files for hit in imports_of(path, "experiments")]
    assert found == [], f"nnlab imports the experiments package: {found}"


def test_the_experiments_use_only_public_nnlab_names():
    files = sorted((ROOT / "experiments").rglob("*.py"))
    assert len(files) >= 6
    found = [hit for path in files for hit in private_nnlab_uses(path)]
    assert found == [], f"experiments use private nnlab names: {found}"
