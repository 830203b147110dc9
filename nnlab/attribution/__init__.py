"""Attribution: which parts of an input a network's decision rests on.

Gradient methods (:class:`Saliency`, :class:`InputXGradient`, :class:`SmoothGrad` /
:class:`NoiseTunnel`, :class:`IntegratedGradients`), a perturbation method
(:class:`Occlusion`), a layer method for CNNs (:class:`LayerGradCam`), attention maps and
rollout for transformers, and two ways to judge a map: its rank correlation with another
map (the randomised-weights sanity check) and its deletion curve (faithfulness). Names
and defaults follow Captum; every method takes a batch (N, ...) and returns NumPy arrays.
"""

from nnlab.attribution.attention import attention_maps, attention_rollout
from nnlab.attribution.base import Attribution, LayerAttribution
from nnlab.attribution.deletion import deletion_curve
from nnlab.attribution.grad_cam import LayerGradCam
from nnlab.attribution.input_x_gradient import InputXGradient
from nnlab.attribution.integrated_gradients import IntegratedGradients
from nnlab.attribution.noise_tunnel import NoiseTunnel, SmoothGrad
from nnlab.attribution.occlusion import Occlusion
from nnlab.attribution.saliency import Saliency
from nnlab.attribution.sanity import rank_correlation

__all__ = [
    "Attribution", "LayerAttribution", "Saliency", "InputXGradient", "NoiseTunnel",
    "SmoothGrad", "IntegratedGradients", "Occlusion", "LayerGradCam", "attention_maps",
    "attention_rollout", "rank_correlation", "deletion_curve",
]  # fmt: skip
