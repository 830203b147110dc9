"""A text corpus that is always there: the docstrings of Python's standard library.

Language models and word vectors need a few hundred thousand words of real, consistent
English. Every Python installation ships one: the documentation strings of its standard
library, about a megabyte of technical prose on files, strings, lists, threads, sockets and
errors. :func:`load_stdlib_docstrings` collects them offline, with nothing to download.

The text depends on the Python version (docstrings change between releases) but, for a
given interpreter, it is the same on every call and every machine. Modules written in
Python are read from their source files (with :mod:`ast`), not from the live objects:
other libraries patch standard-library objects when imported (PyTorch replaces
``inspect.getfile``, transformers adds methods to ``logging.Logger``), and the corpus must
not depend on what else a process has imported.

:class:`CharLMDataset` cuts a text into training pairs for a character-level language
model: ``x`` is a window of ``seq_len`` characters and ``y`` the same window shifted one
character ahead, so the model learns ``p(next char | previous chars)``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import re
import warnings
from collections.abc import Sequence

import numpy as np

from nnlab.data.dataset import Dataset
from nnlab.random import Generator
from nnlab.tensor import Tensor

__all__ = ["STDLIB_MODULES", "load_stdlib_docstrings", "stdlib_documents", "CharLMDataset"]

#: The modules read, in this order. Modules missing from an interpreter are skipped; ones
#: with side effects on import (GUI toolkits, ``this``, ``antigravity``, ``readline``) and
#: deprecated ones are left out.
STDLIB_MODULES: tuple[str, ...] = tuple(
    """
    builtins abc argparse array ast asyncio.base_events asyncio.events asyncio.futures
    asyncio.locks asyncio.queues asyncio.streams asyncio.subprocess asyncio.tasks
    asyncio.transports asyncio.protocols base64 bdb binascii bisect bz2 calendar cmath cmd code
    codecs codeop collections collections.abc concurrent.futures concurrent.futures.process
    concurrent.futures.thread configparser contextlib contextvars copy cProfile csv dataclasses
    datetime dbm decimal difflib dis doctest email.header email.message email.parser
    email.utils enum filecmp fnmatch fractions ftplib functools gc getopt gettext glob graphlib
    gzip hashlib heapq hmac html html.parser http.client http.cookiejar http.cookies
    http.server imaplib importlib importlib.abc importlib.metadata importlib.util inspect io
    ipaddress itertools json json.decoder json.encoder keyword locale logging logging.handlers
    lzma mailbox math mimetypes mmap multiprocessing.connection multiprocessing.managers
    multiprocessing.pool multiprocessing.process multiprocessing.queues
    multiprocessing.synchronize netrc numbers operator optparse os os.path pathlib pdb pickle
    pkgutil platform plistlib poplib pprint profile pstats pydoc queue quopri random re reprlib
    rlcompleter runpy sched secrets select selectors shelve shlex shutil signal site smtplib
    socket socketserver sqlite3 sqlite3.dbapi2 ssl stat statistics string struct subprocess
    symtable sys sysconfig tabnanny tarfile tempfile textwrap threading time timeit token
    tokenize tomllib trace traceback types typing unittest.case unittest.loader unittest.mock
    unittest.result unittest.runner unittest.suite urllib.error urllib.parse urllib.request
    urllib.robotparser uuid warnings wave weakref wsgiref.handlers wsgiref.simple_server
    xml.dom.minidom xml.dom.pulldom xml.etree.ElementTree xml.sax xml.sax.handler xmlrpc.client
    xmlrpc.server zipapp zipfile zipimport zlib _pydecimal _pyio
    """.split()
)

_SPACE = re.compile(r"\s+")


def _doc(obj: object) -> str | None:
    # A class without its own docstring would report its base's: skip it (it is the base's).
    if isinstance(obj, type) and "__doc__" not in vars(obj):
        return None
    doc = getattr(obj, "__doc__", None)
    return doc if isinstance(doc, str) else None


def _members(module: object) -> list[object]:
    """The module, then its public classes and functions defined there (by name), each
    class followed by its public methods and properties (by name)."""
    found: list[object] = [module]
    own = vars(module)
    for name in sorted(own):
        obj = own[name]
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            found.append(obj)
            for attr in sorted(vars(obj)):
                member = vars(obj)[attr]
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isroutine(member) or isinstance(member, property):
                    found.append(member)
        elif inspect.isroutine(obj):
            found.append(obj)
    return found


def _source_members(tree: ast.Module) -> list[ast.AST]:
    """As :func:`_members`, from a parsed source file: the module, its public top-level
    classes and functions (by name), each class followed by its public methods."""
    found: list[ast.AST] = [tree]
    defs = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    top = {n.name: n for n in tree.body if isinstance(n, defs) and not n.name.startswith("_")}
    for name in sorted(top):
        node = top[name]
        found.append(node)
        if isinstance(node, ast.ClassDef):
            methods = {m.name: m for m in node.body if isinstance(m, defs[1:])}
            found += [methods[m] for m in sorted(methods)
                      if not m.startswith("_") or m == "__init__"]  # fmt: skip
    return found


def _module_docs(name: str) -> list[str]:
    """The raw docstrings of one module: from its source file when it has one, else (C
    modules such as ``builtins`` and ``math``) from the imported objects."""
    spec = importlib.util.find_spec(name)
    origin = getattr(spec, "origin", None) or ""
    if origin.endswith(".py"):
        with open(origin, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        docs = (ast.get_docstring(node, clean=False) for node in _source_members(tree))  # type: ignore[arg-type]
        return [d for d in docs if d]
    module = importlib.import_module(name)
    return [d for d in map(_doc, _members(module)) if d]


@functools.lru_cache(maxsize=1)
def stdlib_documents() -> tuple[str, ...]:
    """Every distinct docstring of :data:`STDLIB_MODULES`, in module order, each cleaned to
    one line (runs of whitespace become one space); docstrings under 20 characters
    (``"Return self."``) are dropped. Computed once per process (about 0.5 s)."""
    docs: list[str] = []
    seen: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in STDLIB_MODULES:
            try:
                raw = _module_docs(name)
            except (ImportError, OSError, SyntaxError):
                continue
            for doc in raw:
                doc = _SPACE.sub(" ", doc).strip()
                if len(doc) >= 20 and doc not in seen:
                    seen.add(doc)
                    docs.append(doc)
    return tuple(docs)


def load_stdlib_docstrings(max_chars: int | None = None, seed: int | None = 0) -> str:
    """The standard library's docstrings as one text, one docstring per line.

    The documents come in a fixed order (:data:`STDLIB_MODULES`, then names sorted), are
    shuffled by ``seed`` so that any prefix mixes all modules (a ``seed`` of None keeps the
    module order), joined with ``"\\n"`` and cut to the first ``max_chars`` characters.

    Args:
        max_chars: keep at most this many characters (default: everything, about 1 MB).
        seed: the shuffle of the documents (default: 0); None for module order.

    Returns:
        The text; the same string for the same arguments within one Python version.

    Example:
        >>> text = load_stdlib_docstrings(max_chars=2000)
        >>> len(text), text == load_stdlib_docstrings(max_chars=2000)
        (2000, True)
        >>> "return" in load_stdlib_docstrings().lower()
        True
    """
    if max_chars is not None and (isinstance(max_chars, bool) or max_chars < 0):
        raise ValueError(f"load_stdlib_docstrings: max_chars must be >= 0, got {max_chars!r}")
    docs = list(stdlib_documents())
    if seed is not None:
        order = Generator(seed).numpy.permutation(len(docs))
        docs = [docs[i] for i in order]
    text = "\n".join(docs)
    return text if max_chars is None else text[:max_chars]


class CharLMDataset(Dataset):
    """Character language-model pairs: sample i is ``(x, y)`` with
    ``x = ids[i·L : i·L + L]`` and ``y = ids[i·L + 1 : i·L + L + 1]``, so ``y[t]`` is the
    character that follows ``x[t]`` (windows of length ``L = seq_len`` that do not overlap).

    Characters are numbered in sorted order (``chars``); pass ``chars`` to reuse a training
    set's table on a validation text.

    Args:
        text: the corpus.
        seq_len: characters per window, >= 1.
        chars: the character table (default: the sorted distinct characters of ``text``).

    Shape:
        x, y: int64 tensors of shape (seq_len,); a DataLoader batch is (B, seq_len).

    Example:
        >>> ds = CharLMDataset("hello world", seq_len=4)
        >>> len(ds), ds.chars[:4]
        (2, [' ', 'd', 'e', 'h'])
        >>> x, y = ds[0]
        >>> ds.decode(x.array), ds.decode(y.array)
        ('hell', 'ello')
    """

    def __init__(self, text: str, seq_len: int, chars: Sequence[str] | None = None) -> None:
        if not isinstance(text, str):
            raise TypeError(f"CharLMDataset: text must be a str, got {type(text).__name__}")
        if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(f"CharLMDataset: seq_len must be an int >= 1, got {seq_len!r}")
        self.chars = sorted(set(text)) if chars is None else list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.seq_len = seq_len
        self.data = self.encode(text)
        if len(self) == 0:
            raise ValueError(
                f"CharLMDataset: a text of {len(text)} characters holds no window of "
                f"seq_len + 1 = {seq_len + 1} characters"
            )

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The int64 ids of the characters of ``text``."""
        missing = sorted(set(text) - self.stoi.keys())
        if missing:
            raise ValueError(f"CharLMDataset: characters {missing[:10]} are not in the table")
        return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The string of a sequence of ids."""
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))

    def __len__(self) -> int:
        return (len(self.data) - 1) // self.seq_len

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"CharLMDataset: index {index} out of range for {n} windows")
        start = (index % n) * self.seq_len
        x = self.data[start : start + self.seq_len]
        y = self.data[start + 1 : start + self.seq_len + 1]
        return Tensor._make(x.copy(), False, None, 0), Tensor._make(y.copy(), False, None, 0)

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        """The (B, seq_len) batch for ``indices`` in one fancy-index (the DataLoader's fast
        path)."""
        starts = (np.asarray(indices, dtype=np.int64) % len(self)) * self.seq_len
        rows = starts[:, None] + np.arange(self.seq_len)
        return (
            Tensor._make(self.data[rows], False, None, 0),
            Tensor._make(self.data[rows + 1], False, None, 0),
        )
