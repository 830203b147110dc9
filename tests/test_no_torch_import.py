"""nnlab runs on NumPy alone: torch is only the tests' oracle, so no module of the package
may import it, at import time or lazily inside a function."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nnlab"


def torch_imports(path: Path) -> list[str]:
    """``file:line`` of every import of torch in ``path`` (anywhere in the file), in order."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("__import__", "import_module") and isinstance(first, ast.Constant):
                names = [str(first.value)]
        if any(name.split(".")[0] == "torch" for name in names):
            hits.append((node.lineno, f"{path.name}:{node.lineno}"))
    return [text for _, text in sorted(hits)]


def test_the_scan_finds_torch_imports(tmp_path):
    sample = tmp_path / "nnlab" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "import numpy\n"
        "def f():\n    import torch.nn as tnn\n"
        "from torch import Tensor\n"
        "m = __import__('torch')\n"
        "import importlib\nn = importlib.import_module('torch.optim')\n"
        "import torchvision\n"
    )
    assert torch_imports(sample) == [f"sample.py:{n}" for n in (3, 4, 5, 7)]


def test_no_source_file_imports_torch():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, "the package sources were not found"
    offenders = [f"{path.parent.name}/{hit}" for path in files for hit in torch_imports(path)]
    assert not offenders, f"nnlab must not import torch: {offenders}"


def test_importing_every_module_leaves_torch_unloaded():
    script = """
import importlib, json, pkgutil, sys
import nnlab
failed = []
for info in pkgutil.walk_packages(nnlab.__path__, "nnlab."):
    try:
        importlib.import_module(info.name)
    except Exception as exc:  # broken modules are other tests' business
        failed.append(f"{info.name}: {type(exc).__name__}")
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps({"torch": loaded, "failed": failed, "count": len(sys.modules)}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["torch"] == [], f"importing nnlab loaded {report['torch'][:5]}"
