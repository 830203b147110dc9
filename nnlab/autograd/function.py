"""The unit of differentiation: a :class:`Function` with its forward and backward side by side.

Every differentiable op in nnlab is a subclass of :class:`Function`. Calling
``MyOp.apply(*args)`` runs ``forward`` and, when any input needs a gradient, records one
graph node (the ``Function`` instance itself, which also serves as the ``ctx`` both
methods receive). Backpropagation later calls ``backward(ctx, grad_output)``, which
returns one gradient per argument of ``forward``: the local derivative times the
incoming gradient, i.e. the chain rule ``dL/dx = dL/dy * dy/dx``.

Writing your own op is the same as in PyTorch's ``torch.autograd.Function``: ``forward``
and ``backward`` receive and return tensors.

    >>> import nnlab
    >>> from nnlab.autograd import Function
    >>> class Cube(Function):
    ...     '''y = x**3, dy/dx = 3 x**2'''
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad_output):
    ...         (x,) = ctx.saved_tensors
    ...         return grad_output * 3 * x.pow(2)
    >>> x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    tensor([ 3., 12.])

nnlab's own ops, in :mod:`nnlab.ops`, skip the tensor wrapping for speed: a class whose
``tensor_io`` is False (the default inside the nnlab package) receives and returns NumPy
arrays in both methods. Their higher-order gradients come for free when ``backward``
is written with arithmetic operators, NumPy ufuncs (``np.exp``, ``np.tanh``...) and the
helpers of :mod:`nnlab.ops`: under ``create_graph=True`` the engine calls the same
``backward`` with :class:`~nnlab.tensor.Tensor` arguments, and the saved arrays that are
inputs or outputs of the op come back as the graph's own tensors. A backward that can
only run on arrays (in-place tricks, fused kernels) sets ``double_backward = False`` and
the engine raises a clear error instead of returning a wrong second derivative.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import numpy as np

from nnlab.autograd import anomaly
from nnlab.autograd.grad_mode import _state as _grad_state
from nnlab.autograd.grad_mode import no_grad
from nnlab.tensor import Tensor

__all__ = ["Function"]


class Function:
    """Base class of every differentiable op; an instance is one node of the graph."""

    #: False when ``backward`` only works on NumPy arrays (no ``create_graph``).
    double_backward: bool = True

    #: True when forward and backward take and return tensors, as torch's do. Defaults to
    #: True for a Function written outside the nnlab package, False for nnlab's own ops,
    #: which compute on NumPy arrays.
    tensor_io: bool = False

    # Filled by ``apply`` for recorded nodes; class defaults keep unrecorded ones cheap.
    inputs: tuple[Any, ...] | None = None
    saved: tuple[Any, ...] = ()
    _out_ids: tuple[int, ...] = ()
    _n_out: int = 1
    _out_meta: tuple[tuple[tuple[int, ...], np.dtype], ...] = ()
    _hooks: dict[int, dict[int, Any]] | None = None
    _retained: dict[int, Any] | None = None
    _trace: list[traceback.FrameSummary] | None = None
    _tensor_mode: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if "tensor_io" not in cls.__dict__ and forward is not None:
            code = getattr(getattr(forward, "__func__", forward), "__code__", None)
            cls.tensor_io = code is None or not _inside_nnlab(code.co_filename)
        if cls.tensor_io:
            _wrap_tensor_io(cls)

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        """Compute the output(s) from the inputs; save what backward needs on ``ctx``."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """Return one gradient (or None) per positional argument of ``forward``."""
        raise NotImplementedError

    # -- what forward and backward use -------------------------------------------------

    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays (or tensors) for backward. Inputs and outputs saved here become graph
        tensors when backward runs with ``create_graph=True``; other saved values are
        constants."""
        if self.tensor_io:
            values = tuple(v.array if isinstance(v, Tensor) else v for v in values)
        self.saved = values

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Accepted for torch compatibility: integer outputs never require grad in nnlab,
        and a float output marked here simply receives a gradient that is ignored."""

    def mark_dirty(self, *tensors: Any) -> None:
        """Accepted for torch compatibility; an op that writes into its input must still
        return that input as its output."""

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for torch compatibility: backward always receives gradients as tensors
        (zeros for outputs that did not contribute)."""

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        if self.saved is None:
            raise RuntimeError(
                f"{type(self).__name__}: its saved values were freed by an earlier backward. "
                "Call .backward(retain_graph=True) the first time to backpropagate twice."
            )
        if self._tensor_mode:
            return self._saved_as_tensors()
        if self.tensor_io:
            return tuple(_as_tensor(v) for v in self.saved)
        return self.saved

    def _saved_as_tensors(self) -> tuple[Any, ...]:
        """Map saved arrays back to the tensors of the graph (inputs, outputs) by identity."""
        result = []
        for value in self.saved:
            if not isinstance(value, np.ndarray):
                result.append(value)
                continue
            found = None
            for t in self.inputs or ():
                if isinstance(t, Tensor) and t.array is value:
                    found = t
                    break
            if found is None:
                for idx, out_id in enumerate(self._out_ids):
                    if out_id == id(value):
                        found = Tensor._make(value, True, self, idx)
                        break
            if found is None:
                if not any(value is a for a in self.inputs or ()):
                    raise RuntimeError(
                        f"{type(self).__name__}.forward saved an array that is neither an "
                        "input nor an output, so its higher-order gradient would be wrong; "
                        "store such values as ctx attributes instead."
                    )
                found = Tensor(value)  # a constant array argument of forward
            result.append(found)
        return tuple(result)

    def release(self) -> None:
        """Free everything backward needed: saved values, inputs and any array kept on
        ``ctx`` (masks, indices). The engine calls this after running the node unless
        ``retain_graph=True``; a later backward through it then raises a clear error.
        Hooks and ``retain_grad`` marks belong to the output tensors and stay."""
        d = self.__dict__
        hooks, retained = d.get("_hooks"), d.get("_retained")
        d.clear()
        if hooks:
            d["_hooks"] = hooks
        if retained:
            d["_retained"] = retained
        self.saved = None

    # -- recording ---------------------------------------------------------------------

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the arrays inside ``args`` and record a node if needed.

        Positional ``Tensor`` arguments are differentiable inputs; everything else
        (scalars, arrays, shapes, axes) reaches ``forward`` unchanged.
        """
        ctx = cls()
        enabled = _grad_state.enabled
        arrays = []
        needs = []
        record = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                r = a.requires_grad and enabled
                needs.append(r)
                record = record or r
            else:
                arrays.append(a)
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if anomaly._state.enabled:
            anomaly.check_forward(cls.__name__, out)
        if isinstance(out, tuple):
            return ctx._wrap_many(out, record, args, arrays)
        if type(out) is not np.ndarray:
            out = ctx._as_output_array(out)
        if not record:
            return Tensor._make(out, False, None, 0)
        ctx.inputs = args
        ctx._out_ids = (id(out),)
        if anomaly._state.enabled:
            ctx._trace = _creation_site()
        return Tensor._make(out, True, ctx, 0)

    def _as_output_array(self, out: Any) -> np.ndarray:
        """NumPy returns scalars, not 0-d arrays, from ufuncs on 0-d input (``np.exp``). A
        saved output must stay the very object the output tensor holds, or higher-order
        gradients would treat it as a constant: swap it in ``saved`` too."""
        array = np.asarray(out)
        if self.saved:
            self.saved = tuple(array if v is out else v for v in self.saved)
        return array

    def _wrap_many(
        self, outs: tuple[Any, ...], record: bool, args: tuple[Any, ...], arrays: list[Any]
    ) -> tuple:
        outs = tuple(o if type(o) is np.ndarray else self._as_output_array(o) for o in outs)
        if not record:
            return tuple(Tensor._make(o, False, None, 0) for o in outs)
        self.inputs = args
        self._n_out = len(outs)
        self._out_ids = tuple(id(o) for o in outs)
        self._out_meta = tuple((o.shape, o.dtype) for o in outs)
        if anomaly._state.enabled:
            self._trace = _creation_site()
        return tuple(Tensor._make(o, True, self, i) for i, o in enumerate(outs))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


def _inside_nnlab(filename: str) -> bool:
    return os.path.abspath(filename).startswith(anomaly.PACKAGE_DIR)


def _as_tensor(value: Any) -> Any:
    return Tensor._make(value, False, None, 0) if isinstance(value, np.ndarray) else value


def _as_array(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else value


def _unwrap(out: Any) -> Any:
    return tuple(_as_array(o) for o in out) if isinstance(out, (tuple, list)) else _as_array(out)


def _wrap_tensor_io(cls: type[Function]) -> None:
    """Let a torch-style Function compute on tensors: wrap the arrays that ``apply`` and the
    engine pass in as tensors sharing their memory, and unwrap what comes back. The forward
    runs without recording a graph, as in torch; a ``forward`` without ``ctx`` plus a
    ``setup_context(ctx, inputs, output)`` is torch's other spelling and works too."""
    forward, backward = cls.__dict__.get("forward"), cls.__dict__.get("backward")
    setup = cls.__dict__.get("setup_context")
    if isinstance(forward, staticmethod):
        user_forward = forward.__func__

        def tensor_forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            inputs = tuple(_as_tensor(a) for a in args)
            with no_grad():
                if setup is not None:
                    out = user_forward(*inputs, **kwargs)
                    setup.__func__(ctx, inputs, out)
                else:
                    out = user_forward(ctx, *inputs, **kwargs)
            return _unwrap(out)

        cls.forward = staticmethod(tensor_forward)
    if isinstance(backward, staticmethod):
        user_backward = backward.__func__

        def tensor_backward(ctx: Any, *grads: Any) -> Any:
            out = user_backward(ctx, *(_as_tensor(g) for g in grads))
            return out if ctx._tensor_mode else _unwrap(out)

        cls.backward = staticmethod(tensor_backward)


def _creation_site() -> list[traceback.FrameSummary]:
    """The call stack that created a node, without nnlab's own innermost frames, so an
    anomaly report ends at the user's line (``MyOp.apply(x)``, ``x.sqrt()``, ``F.linear``)."""
    return anomaly.caller_frames(traceback.extract_stack(sys._getframe(1)))
