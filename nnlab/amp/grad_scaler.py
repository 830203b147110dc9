"""Dynamic loss scaling, as ``torch.amp.GradScaler``.

float16 has 10 mantissa bits and its smallest normal number is 2⁻¹⁴ ≈ 6·10⁻⁵: small
gradients flush to zero. Multiplying the loss by a large factor ``S`` scales every gradient
by ``S`` (the chain rule is linear in the upstream gradient), lifting them into float16's
range; the optimizer must then see ``grad / S``. Too large an ``S`` overflows to inf, so the
scale adapts:

* ``unscale_`` multiplies every gradient by ``1/S`` and records whether any was inf or NaN;
* ``step`` skips the optimizer step when one was (the update would be garbage);
* ``update`` sets ``S ← S · backoff_factor`` after an overflow, and ``S ← S · growth_factor``
  after ``growth_interval`` consecutive clean steps.

The scale is kept in float32 and updated with the same arithmetic as torch's CPU kernel,
so the scale trajectory and the skipped steps match torch's bit for bit.

Example:
    >>> import nnlab
    >>> from nnlab import nn
    >>> from nnlab.amp.grad_scaler import GradScaler
    >>> model = nn.Linear(2, 1)
    >>> opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
    >>> scaler = GradScaler(init_scale=1024.0)
    >>> loss = model(nnlab.ones(4, 2)).pow(2).mean()
    >>> scaler.scale(loss).backward()
    >>> scaler.step(opt)
    >>> scaler.update()
    >>> scaler.get_scale()
    1024.0
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from nnlab.tensor import Tensor

__all__ = ["GradScaler"]


class OptState(enum.Enum):
    """Where an optimizer is in the unscale → step → update cycle (torch's names)."""

    READY = 0
    UNSCALED = 1
    STEPPED = 2


class GradScaler:
    """Scale the loss, unscale the gradients, skip steps that overflowed, adapt the scale.

    Args:
        device: only ``"cpu"`` (accepted for torch's signature).
        init_scale: the first scale ``S`` (default 2¹⁶).
        growth_factor: ``S`` is multiplied by it after ``growth_interval`` clean steps.
        backoff_factor: ``S`` is multiplied by it after a step with inf/NaN gradients.
        growth_interval: number of consecutive clean steps before growing.
        enabled: when False every method is a pass-through (``step`` just steps).
    """

    def __init__(
        self,
        device: str = "cpu",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if device != "cpu":
            raise RuntimeError(f"GradScaler: nnlab runs on the CPU only, got device={device!r}")
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1.0, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if not (isinstance(growth_interval, int) and growth_interval > 0):
            raise ValueError(
                f"GradScaler: growth_interval must be a positive int, got {growth_interval!r}"
            )
        self._enabled = enabled
        self._init_scale = init_scale
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        # As torch, the scale and growth tracker come to life at the first scale() call.
        self._scale: np.float32 | None = None
        self._growth_tracker = 0
        self._per_optimizer_states: dict[int, dict[str, Any]] = {}

    # -- the training-loop calls -------------------------------------------------------

    def scale(self, outputs: Any) -> Any:
        """Return ``outputs * S`` (a tensor, or a list/tuple of them, recursively)."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = 0
        if isinstance(outputs, Tensor):
            return outputs * float(self._scale)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(
            f"GradScaler.scale: outputs must be a Tensor or an iterable of Tensors, "
            f"got {type(outputs).__name__}"
        )

    def unscale_(self, optimizer: Any) -> None:
        """Divide the gradients of ``optimizer``'s parameters by ``S`` in place and record
        whether any of them holds an inf or NaN. Call it before clipping gradients."""
        if not self._enabled:
            return
        self._check_scale("unscale_")
        state = self._state(optimizer)
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # torch: the reciprocal is taken in double, then rounded to float32.
        inv_scale = np.float32(1.0 / np.float64(self._scale))
        state["found_inf"] = self._unscale_grads(optimizer, inv_scale)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (unless ``unscale_`` was already called) and call ``optimizer.step()``
        only if no gradient was inf/NaN. Returns what ``optimizer.step`` returned, or
        None for a skipped step."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale("step")
        state = self._state(optimizer)
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adapt the scale after the iteration's steps (or set it to ``new_scale``).

        After any overflow: ``S ← S · backoff_factor`` and the clean-step count restarts;
        otherwise the count grows, and on reaching ``growth_interval`` ``S ← S ·
        growth_factor`` (kept only if finite) and the count restarts.
        """
        if not self._enabled:
            return
        self._check_scale("update")
        if new_scale is not None:
            value = new_scale.item() if isinstance(new_scale, Tensor) else new_scale
            self._scale = np.float32(value)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values()]
            if not found:
                raise RuntimeError("No inf checks were recorded prior to update().")
            self._update_scale(any(found))
        self._per_optimizer_states = {}

    # -- state -------------------------------------------------------------------------

    def get_scale(self) -> float:
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def is_enabled(self) -> bool:
        return self._enabled

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def state_dict(self) -> dict[str, Any]:
        """torch's keys: ``scale``, ``growth_factor``, ``backoff_factor``,
        ``growth_interval``, ``_growth_tracker`` (empty when disabled)."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved "
                "from a disabled instance of GradScaler."
            )
        self._init_scale = state_dict["scale"]
        self._scale = np.float32(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = int(state_dict["_growth_tracker"])

    # -- helpers -----------------------------------------------------------------------

    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._per_optimizer_states.setdefault(
            id(optimizer), {"stage": OptState.READY, "found_inf": False}
        )

    def _check_scale(self, method: str) -> None:
        if self._scale is None:
            raise RuntimeError(
                f"Attempted {method} but the scale is None. This may indicate your script "
                "did not use scaler.scale(loss or outputs) earlier in the iteration."
            )

    @staticmethod
    def _unscale_grads(optimizer: Any, inv_scale: np.float32) -> bool:
        """Multiply every gradient by ``inv_scale`` in place; True if any was not finite."""
        found_inf = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                if g.dtype == np.float16:
                    # The unscaled gradient must live in a float32 master copy: see
                    # nnlab.amp.fp16_utils (torch raises the same error).
                    raise ValueError("Attempting to unscale FP16 gradients.")
                found_inf = found_inf or not bool(np.isfinite(g).all())
                p.grad.array = g * inv_scale
        return found_inf

    def _update_scale(self, found_inf: bool) -> None:
        """torch's ``_amp_update_scale_`` CPU kernel: the factor product is computed in
        double and stored in float32."""
        if found_inf:
            self._scale = np.float32(np.float64(self._scale) * self._backoff_factor)
            self._growth_tracker = 0
            return
        successful = self._growth_tracker + 1
        if successful == self._growth_interval:
            with np.errstate(over="ignore"):  # an overflow to inf is detected just below
                grown = np.float32(np.float64(self._scale) * self._growth_factor)
            if np.isfinite(grown):
                self._scale = grown
            self._growth_tracker = 0
        else:
            self._growth_tracker = successful
