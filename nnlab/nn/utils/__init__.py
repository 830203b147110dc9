"""Helpers that act on a model's parameters: gradient clipping, penalties, norm constraints
(``torch.nn.utils`` names), and freezing, head replacement and parameter groups for
transfer learning."""

from nnlab.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)  # fmt: skip
from nnlab.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from nnlab.nn.utils.modes import training_modes_kept
from nnlab.nn.utils.regularization import (
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    max_norm_,
    regularized_parameters,
)  # fmt: skip

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "elastic_net_penalty",
    "get_total_norm", "l1_penalty", "l2_penalty", "max_norm_", "parameters_to_vector",
    "regularized_parameters", "training_modes_kept", "vector_to_parameters",
]  # fmt: skip

# Variable-length sequences and truncated BPTT (``nnlab.nn.utils.rnn``).
from nnlab.nn.utils import rnn  # noqa: E402
from nnlab.nn.utils.rnn import (  # noqa: E402
    PackedSequence,
    detach_state,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    tbptt_chunks,
    unpack_sequence,
    unpad_sequence,
)

__all__ += [
    "PackedSequence", "detach_state", "pack_padded_sequence", "pack_sequence",
    "pad_packed_sequence", "pad_sequence", "rnn", "tbptt_chunks", "unpack_sequence",
    "unpad_sequence",
]  # fmt: skip

# Transfer learning: freeze / unfreeze, a new head, parameter groups (``transfer``).
from nnlab.nn.utils.transfer import (  # noqa: E402
    freeze,
    head_name,
    param_groups,
    param_groups_by_name,
    replace_head,
    unfreeze,
)

__all__ += [
    "freeze", "head_name", "param_groups", "param_groups_by_name", "replace_head", "unfreeze",
]  # fmt: skip

# Padding masks and pooling over the real tokens of a padded batch (``masking``).
from nnlab.nn.utils.masking import masked_mean, token_ids  # noqa: E402

__all__ += ["masked_mean", "token_ids"]

from nnlab.nn.utils.mining import (  # noqa: E402
    batch_hard_triplets,
    pairwise_distances,
    semi_hard_triplets,
)

__all__ += ["batch_hard_triplets", "pairwise_distances", "semi_hard_triplets"]

# Magnitude pruning, as torch.nn.utils.prune (a module: nnlab.nn.utils.prune.l1_unstructured).
from nnlab.nn.utils import prune  # noqa: E402

__all__ += ["prune"]
