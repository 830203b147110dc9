"""Grad-CAM (Selvaraju et al. 2017): which regions of a convolutional layer's feature maps
the target class relies on.

With A^c (h, w) the c-th channel of the layer's output and f_t the target score:

    α_c = (1/(h·w)) Σ_{u,v} ∂f_t/∂A^c_{uv}        (how much channel c matters)
    map = ReLU(Σ_c α_c A^c)                           (the paper's class activation map)

The map has the layer's (coarse) resolution; :meth:`LayerAttribution.interpolate` lays it
over the input. Captum's ``LayerGradCam`` leaves out the ReLU unless
``relu_attributions=True``; so does this one, so both signs can be inspected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attribution.base import (
    LayerAttribution,
    Target,
    as_batch,
    target_indices,
    target_scores,
)
from nnlab.autograd import grad
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["LayerGradCam"]


class LayerGradCam(LayerAttribution):
    """Grad-CAM at ``layer`` (``captum.attr.LayerGradCam``).

    Args:
        forward_func: the model (a Module containing ``layer``).
        layer: the module whose output (N, C, spatial...) is explained, usually the last
            convolutional block.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> conv = nn.Conv2d(1, 2, 3, padding=1)
        >>> net = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))
        >>> cam = LayerGradCam(net, conv).attribute(np.ones((5, 1, 4, 4), np.float32), target=2)
        >>> cam.shape
        (5, 1, 4, 4)
    """

    def __init__(self, forward_func: Any, layer: Module) -> None:
        super().__init__(forward_func)
        if not isinstance(layer, Module):
            raise TypeError(f"LayerGradCam: layer must be a Module, got {type(layer).__name__}")
        if isinstance(forward_func, Module) and not any(m is layer for m in forward_func.modules()):
            raise ValueError(
                f"LayerGradCam: layer {type(layer).__name__} is not a submodule of the model "
                f"{type(forward_func).__name__}"
            )
        self.layer = layer

    def attribute(
        self, inputs: Any, target: Target = None, relu_attributions: bool = False,
        attr_dim_summation: bool = True,
    ) -> np.ndarray:  # fmt: skip
        """The Grad-CAM map (N, 1, spatial...) at the layer's resolution (or the weighted
        channels (N, C, spatial...) with ``attr_dim_summation=False``).

        Args:
            inputs: the batch (N, ...).
            target: the class explained (one index, or one per row).
            relu_attributions: apply the ReLU of the paper (default: False, as Captum).
            attr_dim_summation: sum the weighted channels (default: True).
        """
        x = as_batch(inputs, self.name)
        t = target_indices(target, len(x), self.name)
        captured: list[Tensor] = []
        remove = self.layer.register_forward_hook(lambda _m, _a, out: captured.append(out))
        try:
            scores = target_scores(self.forward_func(Tensor(x, requires_grad=True)), t, self.name)
        finally:
            remove()
        if len(captured) != 1:
            raise RuntimeError(
                f"{self.name}: the layer {type(self.layer).__name__} ran {len(captured)} times "
                "in one forward pass; Grad-CAM needs exactly one output"
            )
        activation = captured[0]
        if not isinstance(activation, Tensor) or activation.ndim < 3:
            raise ValueError(
                f"{self.name}: the layer's output must be a Tensor (N, C, spatial...), got "
                f"{getattr(activation, 'shape', type(activation).__name__)}"
            )
        (g,) = grad(scores.sum(), activation, allow_unused=True)
        a = activation.array
        gradient = np.zeros_like(a) if g is None else g.array
        spatial = tuple(range(2, a.ndim))
        weights = gradient.mean(axis=spatial, keepdims=True)  # α_c, (N, C, 1, ...)
        cam = weights * a
        if attr_dim_summation:
            cam = cam.sum(axis=1, keepdims=True)
        return np.maximum(cam, 0) if relu_attributions else cam
