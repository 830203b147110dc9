"""The ``nnlab`` command line: train from a TOML config, evaluate a run, predict with it.

    nnlab train configs/digits_mlp.toml
    nnlab train --resume runs/digits-mlp-20261121-101500
    nnlab evaluate runs/digits-mlp-20261121-101500
    nnlab predict runs/digits-mlp-20261121-101500 samples.csv
    nnlab export runs/digits-mlp-20261121-101500 --format onnx
    nnlab serve runs/digits-mlp-20261121-101500 --port 8000
    nnlab doctor configs/digits_mlp.toml
    nnlab tune configs/digits_mlp_tune.toml --trials 20
    nnlab rl configs/rl_cartpole_ppo.toml
    nnlab rl evaluate runs/rl-cartpole-ppo-20261207-101500 --episodes 100

Problems a user can fix (a bad config or option, a missing, corrupted or edited file,
inputs that are not finite numbers or of the wrong width) are reported on stderr in one
paragraph starting with ``error:``, naming the file, key, row or column, with exit code 2 and
nothing overwritten; a training run that diverges (NaN/Inf loss, or an op that makes
NaN/Inf under ``training.detect_anomaly``) exits with code 1. Warnings (a run folder
without digests, say) are printed as ``warning:`` lines.

Other packages add command groups through the entry point group ``nnlab.commands``
(name: the command, value: a Typer app); the lab's ``nnlab lab`` is one, so that nnlab
itself never imports the experiments. A group that fails to load is a ``warning:`` line
on stderr and leaves the other commands working.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nnlab import kernels
from nnlab.autograd.anomaly import AnomalyError
from nnlab.cli_common import fail as _fail
from nnlab.cli_common import one_process, say_error
from nnlab.config import ConfigError
from nnlab.distributed import is_main_process
from nnlab.train import NonFiniteLossError
from nnlab.train.checkpoint import CheckpointError

# The commands import nnlab.runner and nnlab.text in their bodies ("lazy: fast --help"):
# those load matplotlib, scipy.ndimage and every model, which `nnlab --help` and a mistyped
# command should not wait for.

app = typer.Typer(help="nnlab: train, evaluate and use neural networks.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)  # errors and warnings, apart from the results

#: Errors that describe something the user can fix; anything else is a bug and keeps
#: its traceback.
USER_ERRORS = (ConfigError, CheckpointError, FileNotFoundError)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Print each warning as one ``warning:`` line (not Python's file:line format)."""

    def show(message: Any, category: Any, filename: str, lineno: int, *_: Any) -> None:
        err_console.print(Text.assemble(("warning:", "yellow"), " ", str(message)), soft_wrap=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _metrics_table(title: str, metrics: dict[str, dict[str, float]]) -> Table:
    splits = list(metrics)
    names: list[str] = []
    for split in splits:
        names += [n for n in metrics[split] if n not in names]
    table = Table(title=title)
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    for name in names:
        row = [metrics[s].get(name) for s in splits]
        table.add_row(name, *("-" if v is None else f"{v:.4f}" for v in row))
    return table


_EPOCHS_HELP = (
    "train to this many epochs in total (overrides training.epochs). With --resume it is "
    "the one setting that may change: raise it to train a finished run for longer"
)


_TRAIN_HELP = (
    "Train the model described by CONFIG and write a run folder (or --resume one).\n\n"
    "--resume continues from the run's last checkpoint with the settings the run was "
    "trained with (its config.json). The run's config.toml may be edited to change "
    "training.epochs only; an edit of any other setting (model, data, optimizer...) is "
    "refused, naming the keys: train a new run for those. Every run file is checked "
    "against the run's digests.json before anything is written."
)


@app.command(help=_TRAIN_HELP)
def train(
    config: Annotated[Path | None, typer.Argument(help="TOML run configuration")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder")] = None,
    output_dir: Annotated[str | None, typer.Option(help="where run folders go")] = None,
    epochs: Annotated[int | None, typer.Option(help=_EPOCHS_HELP)] = None,
    seed: Annotated[int | None, typer.Option(help="override the config's seed")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress output")] = False,
) -> None:
    """Train the model described by CONFIG and write a run folder (or --resume one)."""
    from nnlab.runner import resume_from_run, train_from_config  # lazy: fast --help

    if (config is None) == (resume is None):
        _fail("give either a CONFIG file or --resume RUN_DIR")
    if resume is not None and (seed is not None or output_dir is not None):
        _fail("--seed and --output-dir apply to a new run, not to --resume (a run keeps both)")
    if epochs is not None and epochs < 1:
        _fail(f"--epochs must be at least 1, got {epochs}")
    with _warnings_as_lines():
        try:
            if resume is not None:
                result = resume_from_run(resume, epochs=epochs, verbose=not quiet)
            else:
                result = train_from_config(
                    config, output_dir=output_dir, epochs=epochs, seed=seed, verbose=not quiet
                )
        except USER_ERRORS as exc:
            _fail(str(exc))
        except (NonFiniteLossError, AnomalyError) as exc:
            _fail(f"training stopped: {exc}", code=1)
    if not is_main_process():  # under mpirun, rank 0 alone reports
        return
    console.print(_metrics_table("final metrics", result.metrics))
    kept = result.info.get("selected_epoch")
    if kept is not None and "selected_by" in result.info:
        trained = result.info["epochs_trained"]
        console.print(
            f"kept the weights of epoch {kept} of {trained} ({result.info['selected_by']})"
        )
    console.print(f"run folder: [bold]{result.run_dir}[/]", highlight=False)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
) -> None:
    """Evaluate a trained run's model on its test split (its files checked against the
    run's digests.json first)."""
    one_process("evaluate")
    from nnlab.runner import evaluate_run  # lazy: fast --help

    with _warnings_as_lines():
        try:
            metrics = evaluate_run(run_dir)
        except USER_ERRORS as exc:
            _fail(str(exc))
    console.print(_metrics_table(f"test metrics of {run_dir.name}", {"test": metrics}))


_INPUTS_HELP = (
    "feature rows: a .npy array, or a CSV of numbers, one row per sample (a first row of "
    "names, none a number, is a header and is skipped); a text run reads one text per "
    "line. Every cell must be a finite float32 number: anything else is an error naming "
    "its row and column, counted from 1"
)


_OUTPUT_HELP = "write predictions to this CSV, row for row (with a header if INPUTS has one)"


_PREDICT_HELP = (
    "Predict with a trained run for the rows in INPUTS (raw, unscaled features).\n\n"
    "Prediction i is for row i of INPUTS: no row is ever skipped. The table's row column "
    "is the row's number in the file (or its index in a .npy array)."
)


@app.command(help=_PREDICT_HELP)
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
    inputs: Annotated[Path, typer.Argument(help=_INPUTS_HELP)],
    output: Annotated[
        Path | None,
        typer.Option(
            help="write predictions to this CSV, row for row (a header if INPUTS has one)"
        ),
    ] = None,
) -> None:
    """Predict with a trained run for the rows in INPUTS (raw, unscaled features)."""
    one_process("predict")
    from nnlab.runner import predict_run, run_reads_texts  # lazy: fast --help
    from nnlab.runner.inputs import read_feature_rows, read_texts  # lazy: fast --help

    if not inputs.is_file():
        _fail(f"input file {inputs} does not exist" + (" (it is a folder)" * inputs.is_dir()))
    if output is not None and (output.is_dir() or output.resolve() == inputs.resolve()):
        _fail(f"--output {output} is a folder or the input file; give a new file name")
    with _warnings_as_lines():
        try:
            read = read_texts if run_reads_texts(run_dir) else read_feature_rows
            rows = read(inputs)
            result = predict_run(run_dir, rows.values)
        except (*USER_ERRORS, ValueError, TypeError) as exc:
            _fail(str(exc))
    pred = result["prediction"]
    n = len(pred)
    if output is not None:
        header = "prediction\n" if rows.header is not None else ""
        body = "".join(f"{p}\n" for p in pred.tolist())
        try:
            output.write_text(header + body)
        except OSError as exc:
            _fail(f"--output {output}: cannot write it ({exc.strerror})")
        console.print(f"wrote {n} prediction{'s' * (n != 1)} to {output}", highlight=False)
        return
    if rows.header is not None:
        console.print(f"row 1 is a header, skipped: {rows.header.strip()}", highlight=False)
    table = Table(title=f"predictions ({n} row{'s' * (n != 1)})")
    table.add_column("index" if inputs.suffix.lower() == ".npy" else "row", justify="right")
    table.add_column("prediction", justify="right")
    confidence = result.get("confidence")
    if confidence is not None:
        table.add_column("confidence", justify="right")
    for i, p in enumerate(pred[:50]):
        cells = [rows.rows[i], f"{p:.4g}" if isinstance(p, float | np.floating) else str(p)]
        if confidence is not None:
            cells.append(f"{confidence[i]:.3f}")
        table.add_row(*cells)
    console.print(table)
    if n > 50:
        console.print(f"(first 50 of {n} rows; use --output to write them all)")


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="sentences to embed")],
    top_k: Annotated[int, typer.Option(help="neighbours to list per sentence (≥ 1)")] = 3,
) -> None:
    """Embed TEXTS with the pretrained all-MiniLM-L6-v2 sentence encoder (run by nnlab's
    own layers) and list each sentence's nearest neighbours among the others (never
    itself) by cosine similarity."""
    one_process("embed")
    from nnlab.text import SentenceEncoder  # lazy: fast --help
    from nnlab.text.similarity import nearest_neighbours  # lazy: fast --help

    if top_k < 1:
        _fail(f"--top-k must be at least 1, got {top_k}")
    try:
        encoder = SentenceEncoder()
        vectors = encoder.encode(texts, show_progress_bar=False)
    except (ImportError, FileNotFoundError, ValueError, TypeError) as exc:
        _fail(str(exc))
    console.print(f"embeddings: {vectors.shape[0]} × {vectors.shape[1]} (float32, L2-normalised)")
    if len(texts) < 2:
        console.print("no neighbours to list: give at least two sentences to compare")
        return
    table = Table(title=f"nearest neighbours (top {min(top_k, len(texts) - 1)})")
    table.add_column("sentence")
    table.add_column("neighbours (cosine)")
    for text, pairs in zip(texts, nearest_neighbours(vectors, top_k)):
        table.add_row(text, "\n".join(f"{c:.3f}  {texts[j]}" for j, c in pairs), style=None)
    console.print(table)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
    format: Annotated[str, typer.Option(help="the file format (onnx)")] = "onnx",
    out: Annotated[
        Path | None, typer.Option(help="the file to write (default: RUN_DIR/model.onnx)")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """Export a run's model to ONNX, checked against nnlab's outputs by onnxruntime first."""
    one_process("export")
    from nnlab.onnx.command import ExportError, export_command  # lazy: fast --help

    with _warnings_as_lines():
        try:
            path = export_command(run_dir, format=format, out=out, overwrite=overwrite)
        except (*USER_ERRORS, ExportError, FileExistsError) as exc:
            _fail(str(exc))
    console.print(f"wrote {path}", highlight=False)


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
    host: Annotated[
        str, typer.Option(help="address to listen on (0.0.0.0 exposes it to the network)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on")] = 8000,
) -> None:
    """Serve RUN_DIR's predictions over HTTP (POST /predict, GET /health, GET /metadata)
    until Ctrl-C; concurrent requests share forward passes."""
    one_process("serve")
    from nnlab.serve.command import serve_command  # lazy: fast --help

    with _warnings_as_lines():
        try:
            serve_command(run_dir, host=host, port=port)
        except (*USER_ERRORS, ValueError) as exc:
            _fail(str(exc))


@app.command()
def doctor(
    target: Annotated[
        Path, typer.Argument(help="a TOML config or a run folder from `nnlab train`")
    ],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="also write the findings as JSON to this file")
    ] = None,
) -> None:
    """Diagnose why the model of TARGET might not learn (overfit one batch, initial loss, LR
    range test, gradients and activations, input scale, labels and leakage, a short
    training); exits 1 when a finding is an error. A run folder is diagnosed from its
    config with a freshly initialised model: the checks are about the setup."""
    one_process("doctor")
    from nnlab.doctor.command import DoctorError, doctor_command, findings_table  # lazy
    from nnlab.doctor.findings import exit_code  # lazy: fast --help

    with _warnings_as_lines():
        try:
            findings = doctor_command(target, json_path=json_path)
        except (*USER_ERRORS, DoctorError) as exc:
            _fail(str(exc))
    console.print(findings_table(findings, f"doctor's findings for {target}"))
    raise typer.Exit(exit_code(findings))


@app.command()
def tune(
    config: Annotated[
        Path, typer.Argument(help="a TOML config whose tune section declares the search")
    ],
    trials: Annotated[
        int | None,
        typer.Option(help="finished trials the study should hold (default: tune.n_trials)"),
    ] = None,
    sampler: Annotated[str, typer.Option(help="grid, random, tpe or cmaes")] = "tpe",
    pruner: Annotated[str, typer.Option(help="none, median or hyperband")] = "median",
    storage: Annotated[
        str | None,
        typer.Option(
            help="an Optuna storage URL or a journal file PATH.log "
            "(default: sqlite:///STUDY_FOLDER/study.db)"
        ),
    ] = None,
    study: Annotated[str | None, typer.Option(help="the study's name (default: NAME-tune)")] = None,
    workers: Annotated[
        int, typer.Option(help="worker processes on the study (under mpirun: one per rank)")
    ] = 1,
    timeout: Annotated[
        float | None, typer.Option(help="seconds after which no worker starts a trial")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="training.epochs of every trial")] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(help="where the study folder goes (default: the config's output_dir)"),
    ] = None,
) -> None:
    """Search the hyperparameters of CONFIG's tune section with Optuna: each trial a run in
    the study folder, which also gets trials.csv, best.toml and plots."""
    from nnlab.tune.command import (  # lazy: fast --help
        TuneError,
        TuneInterrupted,
        trials_table,
        tune_command,
    )

    with _warnings_as_lines():
        try:
            result = tune_command(
                config, trials=trials, sampler=sampler, pruner=pruner, storage=storage,
                study=study, workers=workers, timeout=timeout, epochs=epochs,
                output_dir=output_dir,
            )  # fmt: skip
        except TuneInterrupted as exc:
            _fail(str(exc), code=130)  # the shell's code for a Ctrl-C
        except (*USER_ERRORS, TuneError) as exc:
            _fail(str(exc))
    if result is None:  # an MPI rank other than 0: rank 0 reports
        return
    console.print(trials_table(result))
    console.print(result.best_line(), highlight=False)
    console.print(f"study folder: {result.study_dir}", highlight=False)


def _add_rl_commands(app: typer.Typer) -> None:
    """``nnlab rl CONFIG`` (train an agent) and ``nnlab rl evaluate RUN``; their group module
    imports no more than nnlab.rl (the run machinery loads inside the commands)."""
    from nnlab.rl.command import app as rl_app

    app.add_typer(rl_app, name="rl")


_add_rl_commands(app)


def _add_plugin_commands(app: typer.Typer) -> None:
    """Add each command group registered under the entry point group ``nnlab.commands``;
    one that fails to load is reported as a warning and left out."""
    for ep in entry_points(group="nnlab.commands"):
        try:
            app.add_typer(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must not break nnlab's own commands
            problem = f"command {ep.name!r} ({ep.value}) not loaded: {type(exc).__name__}: {exc}"
            err_console.print(Text.assemble(("warning:", "yellow"), " ", problem), soft_wrap=True)


_add_plugin_commands(app)


def main() -> None:
    problem = kernels.environment_problem()  # NNLAB_KERNELS, read when nnlab was imported
    if problem is not None:
        say_error(problem)
        raise SystemExit(2)
    app()


if __name__ == "__main__":
    main()
