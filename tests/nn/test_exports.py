"""The layer names are listed once (each file's ``__all__``) and reach ``nnlab.nn.modules``
and ``nnlab.nn`` from there: every listed name is importable from both, nothing is listed
twice, and every layer file is gathered."""

from __future__ import annotations

import importlib
import pkgutil

import nnlab.nn as nn
import nnlab.nn.modules as modules

# torch-path aliases (torch.nn.modules.batchnorm, .module, .sparse): they re-export layers
# that live in another file.
_ALIASES = {"batchnorm", "module", "sparse"}


def test_every_name_is_bound_once() -> None:
    for package in (nn, modules):
        assert len(package.__all__) == len(set(package.__all__)), package.__name__
        missing = [name for name in package.__all__ if not hasattr(package, name)]
        assert missing == [], f"{package.__name__} lists {missing} but does not import them"


def test_nn_re_exports_every_layer() -> None:
    assert set(modules.__all__) <= set(nn.__all__)
    for name in modules.__all__:
        assert getattr(nn, name) is getattr(modules, name), name


def test_every_layer_file_is_gathered() -> None:
    gathered = set(modules.__all__)
    for info in pkgutil.iter_modules(modules.__path__):
        if info.name in _ALIASES:
            continue
        file = importlib.import_module(f"{modules.__name__}.{info.name}")
        layers = {n for n in file.__all__ if isinstance(getattr(file, n), type)}
        assert layers <= gathered, f"{info.name}: {sorted(layers - gathered)} not exported"


def test_star_import_gives_the_layers() -> None:
    namespace: dict[str, object] = {}
    exec("from nnlab.nn import *", namespace)
    assert namespace["Linear"] is nn.Linear and namespace["Module"] is nn.Module
