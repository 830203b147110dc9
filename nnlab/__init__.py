"""nnlab: a deep-learning library on NumPy, written to be read.

>>> import nnlab
>>> x = nnlab.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x ** 2).sum()
>>> y.backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from nnlab import _malloc

_malloc.tune_malloc()

from nnlab import autograd, dtypes, nn, ops  # noqa: E402
from nnlab.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
from nnlab.creation import (  # noqa: E402
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)  # fmt: skip
from nnlab.dtypes import (  # noqa: E402
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)  # fmt: skip
from nnlab.ops import *  # noqa: E402,F403
from nnlab.ops import __all__ as _ops_all  # noqa: E402
from nnlab.random import Generator, get_rng_state, manual_seed, seed, set_rng_state  # noqa: E402
from nnlab.tensor import Tensor  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Generator", "Tensor", "arange", "as_tensor", "autograd", "bool_", "dtypes", "empty",
    "empty_like", "enable_grad", "eye", "float16", "float32", "float64", "from_numpy", "full",
    "full_like", "get_default_dtype", "get_rng_state", "int8", "int16", "int32", "int64",
    "is_grad_enabled", "linspace", "manual_seed", "nn", "no_grad", "normal", "ones",
    "ones_like", "ops", "rand", "rand_like", "randint", "randn", "randn_like", "randperm",
    "seed", "set_default_dtype", "set_grad_enabled", "set_rng_state", "tensor", "uint8",
    "zeros", "zeros_like", *[n for n in _ops_all if n != "UFUNCS"],
]  # fmt: skip
