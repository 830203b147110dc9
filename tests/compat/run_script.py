"""Run a PyTorch script with real torch, or with nnlab answering to torch's module names.

    python tests/compat/run_script.py torch SCRIPT.py
    python tests/compat/run_script.py nnlab SCRIPT.py

With ``nnlab``, ``sys.modules`` maps ``torch`` to ``nnlab`` before the script runs, and
likewise ``torch.nn``, ``torch.nn.functional``, ``torch.optim``, ``torch.optim.lr_scheduler``,
``torch.autograd`` and ``torch.utils.data`` (``nnlab.utils.data`` where nnlab has it, else
``nnlab.data``). Any other ``torch.X`` a script imports resolves to ``nnlab.X`` itself (never
a second copy of nnlab's files), so a missing module fails with nnlab's own name in the
error. Only ``sys.modules`` changes: attributes nnlab lacks (``torch.utils`` on the package,
say) stay missing, as they would be for a user. Each run is its own process, so nothing
leaks from one script or library into another.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import runpy
import sys
import types

__all__ = ["ALIASES", "alias_torch_to_nnlab", "main"]

#: torch's module names and the nnlab modules that stand in for them.
ALIASES = {
    "torch": "nnlab",
    "torch.nn": "nnlab.nn",
    "torch.nn.functional": "nnlab.nn.functional",
    "torch.optim": "nnlab.optim",
    "torch.optim.lr_scheduler": "nnlab.optim.lr_scheduler",
    "torch.autograd": "nnlab.autograd",
}


class _Existing(importlib.abc.Loader):
    """Hands an already imported nnlab module to the import system under a torch name."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module) -> None:
        # The import system stamps the torch-named spec on the module; nnlab's stays.
        module.__spec__ = self.spec


class _TorchToNnlab(importlib.abc.MetaPathFinder):
    """``torch.X.Y`` -> the module ``nnlab.X.Y`` (ModuleNotFoundError names nnlab's)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        module = importlib.import_module("nnlab" + fullname[len("torch") :])
        return importlib.util.spec_from_loader(fullname, _Existing(module))


def _find(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and name.startswith(err.name):
            return None
        raise


def alias_torch_to_nnlab() -> None:
    """Install nnlab under torch's module names in this process."""
    for torch_name, nnlab_name in ALIASES.items():
        sys.modules[torch_name] = importlib.import_module(nnlab_name)
    utils = _find("nnlab.utils")
    data = _find("nnlab.utils.data") if utils is not None else None
    if utils is None:
        # The import statement needs a parent module; the nnlab package gets no attribute.
        utils = types.ModuleType("torch.utils", "The harness's parent of torch.utils.data.")
        utils.__path__ = []
    sys.modules["torch.utils"] = utils
    sys.modules["torch.utils.data"] = data or importlib.import_module("nnlab.data")
    sys.meta_path.insert(0, _TorchToNnlab())


def main(argv: list[str]) -> None:
    if len(argv) != 3 or argv[1] not in ("torch", "nnlab"):
        sys.exit("usage: run_script.py torch|nnlab SCRIPT.py")
    if argv[1] == "nnlab":
        alias_torch_to_nnlab()
    sys.argv = [argv[2]]
    runpy.run_path(argv[2], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv)
