"""Config-driven runs: a TOML :class:`~nnlab.config.RunConfig` in, a run folder out.

``data`` turns a config into data splits, token ids, layouts, augmentations and loaders;
``builders`` into a model (from its entry in :mod:`nnlab.models.registry`), a loss, an
optimizer and a schedule; ``hooks`` holds what some model types and tasks add to the
general path (the perceptron rule, seq2seq's exact match); ``training`` trains (or
resumes) with the one training loop and writes the run folder; ``generative`` holds the
own loops of the reconstruction and generation tasks (autoencoders, VAEs, GANs, DDPMs);
``inference`` evaluates and predicts with a finished run.
"""

from nnlab.runner.builders import build_model
from nnlab.runner.data import make_splits
from nnlab.runner.inference import evaluate_run, load_run, predict_run, run_reads_texts
from nnlab.runner.training import RunResult, resume_from_run, train_from_config

__all__ = [
    "RunResult", "build_model", "evaluate_run", "load_run", "make_splits", "predict_run",
    "resume_from_run", "run_reads_texts", "train_from_config",
]  # fmt: skip
