"""The model types a run config can name, each registered beside its class.

``model.type = "lenet5"`` in a config means the entry registered under that name. An
entry says everything the runner and the config need to know about a model type:

- ``reads``: what its input is, one or more of :data:`INPUT_KINDS`. The config refuses a
  model whose input the data does not give (a CNN needs images, a bag of embeddings texts).
- ``args``: its constructor's arguments that come from the data and the config, as a
  function of :class:`ModelInputs` (input channels, classes, vocabulary size, ...). The
  config's ``model.params`` are added on top, checked against the constructor's signature.
- ``tasks``: the tasks it does (default: classification, binary, regression).
- ``own_fit``: it does not train with the general loop (one loss, one optimizer, the
  :class:`~nnlab.train.Trainer`): the perceptron trains itself (``fit(x, y, epochs=,
  lr=)``, per-epoch ``errors_``, ``predict(x)``); the models of the reconstruction and
  generation tasks (a VAE's warm-up, a GAN's two players, a DDPM's noising) train with
  the loops of :mod:`nnlab.runner.generative`.
- ``loop``: which of those loops (one of :data:`LOOPS`).
- ``losses``: the config's ``loss.name`` values it trains with, the first by default
  (default: any loss of the task).
- ``input_range``: the fixed range its data must lie in (a generator's ``tanh`` makes
  [-1, 1], a Bernoulli likelihood needs [0, 1]): the config then requires min-max
  scaling, and the loop maps [0, 1] onto the range.
- ``image_size``: the one image side it reads or makes (the DCGAN's 16); the config then
  requires ``data.image_size`` to be it.
- ``pretrained``: the pretrained encoder its constructor loads; its inputs are token ids
  from that encoder's tokenizer, and its frozen weights, rebuilt on load, stay out of
  checkpoints and ``model.safetensors``.

Adding a model type is one decorator above the class (or factory function)::

    @register_model("lenet5", reads="image",
                    args=lambda d: {"in_channels": d.input_shape[0], "num_classes": d.outputs})
    class LeNet5(Sequential): ...

and, for a new file, its import in ``nnlab/models/__init__.py`` (importing any part of
``nnlab.models``, this module included, imports them all, so every entry is made before
anything asks). The config's allowed names, its checks and the runner read the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "INPUT_KINDS", "GENERAL_TASKS", "ENCODER_TASKS", "LOOPS", "ModelInputs", "ModelEntry",
    "register_model", "model_entry", "model_names",
]  # fmt: skip

#: What a model can read, and where the data gives it: feature rows ``(N, F)`` (data.layout
#: "flat"), images ``(N, C, H, W)`` ("image"), signals ``(N, C, L)`` ("sequence"), token
#: ids ``(N, T)`` of a text dataset, and (source, shifted target) token-id pairs.
INPUT_KINDS = ("features", "image", "signal", "tokens", "token_pairs")
#: The tasks a model does unless its entry says otherwise.
GENERAL_TASKS = ("classification", "binary", "regression")
#: The own training loops of :mod:`nnlab.runner.generative`: rebuild the input
#: (autoencoders), the ELBO (VAEs), two players in turn (GANs), denoising (DDPMs).
LOOPS = ("reconstruction", "elbo", "adversarial", "diffusion")
#: Tasks every model that does classification also does, its outputs read as an
#: embedding: metric learning trains any such network as a Siamese/triplet encoder.
ENCODER_TASKS = ("metric_learning",)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ModelInputs:
    """What the data and the config tell a model's constructor.

    ``input_shape`` is one sample's shape (no batch axis): ``(F,)`` for feature rows,
    ``(C, H, W)`` for images, ``(C, L)`` for signals, ``(T,)`` for token ids.
    ``outputs`` is the number of scores per output position: the classes (per sample,
    per pixel or per output token), or 1 for binary and regression outputs."""

    name: str  # the config's model.type (one class may serve several names)
    input_shape: tuple[int, ...]
    outputs: int
    vocab_size: int = 0  # token ids: the input vocabulary's size; 0 for numbers
    max_len: int = 0  # token ids: the padded length (data.text.max_len)
    config: Any = None  # the config's [model] section (hidden_sizes, activation, ...)


@dataclass(frozen=True)
class ModelEntry:
    """One registered model type (see the module docstring for the fields)."""

    name: str
    factory: Callable[..., Any]
    reads: tuple[str, ...]
    args: Callable[[ModelInputs], dict[str, Any]]
    tasks: tuple[str, ...] = GENERAL_TASKS
    own_fit: bool = False
    pretrained: str | None = None
    losses: tuple[str, ...] = ()
    loop: str | None = None
    input_range: tuple[float, float] | None = None
    image_size: int | None = None

    def does(self, task: str) -> bool:
        """Whether it does ``task``: one of its ``tasks``, or an encoder task
        (:data:`ENCODER_TASKS`) for a classifier trained by the general loop."""
        if task in self.tasks:
            return True
        return task in ENCODER_TASKS and "classification" in self.tasks and not self.own_fit

    def build(self, inputs: ModelInputs, params: dict[str, Any]) -> Any:
        """``factory(**args(inputs), **params)``: ``params`` override the derived args."""
        return self.factory(**{**self.args(inputs), **params})


_ENTRIES: dict[str, ModelEntry] = {}


def _as_tuple(value: str | tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise TypeError(f"register_model: {what} must be a name or names, got {value!r}")
    return values


def register_model(
    *names: str,
    reads: str | tuple[str, ...],
    args: Callable[[ModelInputs], dict[str, Any]],
    tasks: str | tuple[str, ...] = GENERAL_TASKS,
    own_fit: bool = False,
    pretrained: str | None = None,
    losses: str | tuple[str, ...] = (),
    loop: str | None = None,
    input_range: tuple[float, float] | None = None,
    image_size: int | None = None,
) -> Callable[[F], F]:
    """A decorator that registers the class or factory below it under ``names`` (several
    names may share one class, e.g. ``"rnn", "lstm", "gru"``, told apart by
    ``ModelInputs.name``). Returns the class unchanged."""
    names = _as_tuple(names, "names")
    kinds = _as_tuple(reads, "reads")
    unknown = [k for k in kinds if k not in INPUT_KINDS]
    if unknown:
        raise ValueError(
            f"register_model{names}: reads {unknown} unknown; choose from {', '.join(INPUT_KINDS)}"
        )
    if not callable(args):
        raise TypeError(f"register_model{names}: args must be a function of ModelInputs")
    task_names = _as_tuple(tasks, "tasks")
    loss_names = _as_tuple(losses, "losses") if losses else ()
    if loop is not None and (loop not in LOOPS or not own_fit):
        raise ValueError(
            f"register_model{names}: loop must be one of {', '.join(LOOPS)}, with own_fit=True; "
            f"got loop={loop!r}, own_fit={own_fit}"
        )

    def register(factory: F) -> F:
        for name in names:
            old = _ENTRIES.get(name)
            if old is not None and _origin(old.factory) != _origin(factory):
                raise ValueError(
                    f"model type {name!r} is already registered by {_origin(old.factory)}; "
                    f"{_origin(factory)} needs another name"
                )
            _ENTRIES[name] = ModelEntry(name, factory, kinds, args, task_names, own_fit,
                                        pretrained, loss_names, loop, input_range,
                                        image_size)  # fmt: skip
        return factory

    return register


def _origin(factory: Any) -> str:
    """Where a factory is defined; a module reloaded registers the same origin again."""
    return f"{factory.__module__}.{factory.__qualname__}"


def model_entry(name: str) -> ModelEntry:
    """The entry registered under ``name``; ValueError listing the names if there is none."""
    if name not in _ENTRIES:
        raise ValueError(f"unknown model type {name!r}; choose one of {', '.join(model_names())}")
    return _ENTRIES[name]


def model_names(*, reads: str | None = None, task: str | None = None) -> tuple[str, ...]:
    """The registered names, sorted; only those that read ``reads`` / do ``task`` if given."""
    return tuple(
        sorted(
            name
            for name, e in _ENTRIES.items()
            if (reads is None or reads in e.reads) and (task is None or e.does(task))
        )
    )
