"""Upsampling layers: resize feature maps by nearest-neighbour or (bi/tri)linear
interpolation, a thin shell over ``F.interpolate`` (the op and its backward live in
:mod:`nnlab.ops.upsampling`)."""

from __future__ import annotations

from typing import Any

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]

_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}
_SHAPES = {3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}


class Upsample(Module):
    """Resize the spatial dims of a batch to ``size``, or multiply them by
    ``scale_factor`` (each output size is ⌊L·scale_factor⌋).

    - ``nearest``: each output pixel copies the input pixel ⌊o·scale⌋ (scale =
      1/scale_factor, or L/L_out when a size is given);
    - ``linear``, ``bilinear``, ``trilinear`` (3-, 4-, 5-D input): a weighted average of
      the two nearest inputs per dim, y = (1 - λ)·x[i] + λ·x[i + 1] at the source
      coordinate src = i + λ. ``align_corners=True`` maps the corner pixels onto each other
      (src = o·(L - 1)/(L_out - 1)); False (default) maps the image edges onto each other
      (src = (o + ½)·scale - ½), which is what resizing an image usually means.

    Args:
        size: output spatial size, an int or one per spatial dim (default: None).
        scale_factor: multiplier of each spatial size, a float or one per spatial dim
            (default: None); give exactly one of ``size`` and ``scale_factor``.
        mode: 'nearest' (default), 'nearest-exact', 'linear', 'bilinear', 'trilinear' or
            'area'.
        align_corners: for the linear modes (default: None, meaning False).
        recompute_scale_factor: sample with the scale implied by the output size instead
            of ``scale_factor`` (default: None, meaning no).

    Shape:
        - Input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        - Output: (N, C, L_out), (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> up = nn.Upsample(scale_factor=2, mode="bilinear")
        >>> up(nnlab.zeros(1, 3, 4, 5)).shape
        nnlab.Size([1, 3, 8, 10])
        >>> nn.Upsample(size=3)(nnlab.tensor([[[1.0, 2.0]]]))
        tensor([[[1., 1., 2.]]])
        >>> up
        Upsample(scale_factor=2.0, mode='bilinear')
    """

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        rank = _RANK.get(self.mode)
        if rank is not None and input.ndim != rank:
            raise self.shape_error(
                _SHAPES[rank], input.shape,
                f"mode={self.mode!r} resizes {rank - 2} spatial dim(s); for a {input.ndim}-D "
                f"input use {_mode_for(input.ndim)}.",
            )  # fmt: skip
        if not 3 <= input.ndim <= 5:
            raise self.shape_error(
                "(N, C, L), (N, C, H, W) or (N, C, D, H, W)", input.shape,
                "Upsample needs a batch and a channel dim before the spatial dims.",
            )  # fmt: skip
        return F.interpolate(input, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)  # fmt: skip

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


def _mode_for(ndim: int) -> str:
    names = {3: "mode='linear'", 4: "mode='bilinear'", 5: "mode='trilinear'"}
    return names.get(ndim, "an (N, C, *spatial) input")


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) images: ``Upsample(size, scale_factor,
    mode='nearest')``.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.UpsamplingNearest2d(scale_factor=2)(nnlab.ones(1, 1, 2, 3)).shape
        nnlab.Size([1, 1, 4, 6])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) images with ``align_corners=True``, torch's
    older layer: ``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.UpsamplingBilinear2d(size=(1, 3))(nnlab.tensor([[[[0.0, 1.0]]]]))
        tensor([[[[0. , 0.5, 1. ]]]])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
