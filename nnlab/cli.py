"""The ``nnlab`` command line: train from a TOML config, evaluate a run, predict with it.

    nnlab train configs/digits_mlp.toml
    nnlab train --resume runs/digits-mlp-20261121-101500
    nnlab evaluate runs/digits-mlp-20261121-101500
    nnlab predict runs/digits-mlp-20261121-101500 samples.csv

Problems a user can fix (a bad config, a missing file, a corrupted checkpoint, inputs of
the wrong width) are reported in one line starting with ``error:`` and exit code 2; a
training run that diverges (NaN/Inf loss) exits with code 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from nnlab.config import ConfigError
from nnlab.train.checkpoint import CheckpointError

app = typer.Typer(help="nnlab: train, evaluate and use neural networks.", no_args_is_help=True)
console = Console()

#: Errors that describe something the user can fix; anything else is a bug and keeps
#: its traceback.
USER_ERRORS = (ConfigError, CheckpointError, FileNotFoundError)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


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


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="TOML run configuration")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder")] = None,
    output_dir: Annotated[str | None, typer.Option(help="where run folders go")] = None,
    epochs: Annotated[int | None, typer.Option(help="override training.epochs")] = None,
    seed: Annotated[int | None, typer.Option(help="override the config's seed")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress output")] = False,
) -> None:
    """Train the model described by CONFIG and write a run folder (or --resume one)."""
    from nnlab.runner import resume_from_run, train_from_config
    from nnlab.train import NonFiniteLossError

    if (config is None) == (resume is None):
        _fail("give either a CONFIG file or --resume RUN_DIR")
    try:
        if resume is not None:
            result = resume_from_run(resume, epochs=epochs, verbose=not quiet)
        else:
            result = train_from_config(
                config, output_dir=output_dir, epochs=epochs, seed=seed, verbose=not quiet
            )
    except USER_ERRORS as exc:
        _fail(str(exc))
    except NonFiniteLossError as exc:
        _fail(f"training stopped: {exc}", code=1)
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
    """Evaluate a trained run's model on its test split."""
    from nnlab.runner import evaluate_run

    try:
        metrics = evaluate_run(run_dir)
    except USER_ERRORS as exc:
        _fail(str(exc))
    console.print(_metrics_table(f"test metrics of {run_dir.name}", {"test": metrics}))


def _read_rows(path: Path) -> np.ndarray:
    """Feature rows from a .npy file, or a comma-separated file (a header line is skipped)."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    text = path.read_text().strip().splitlines()
    if text and any(c.isalpha() for c in text[0].replace("e", "").replace("E", "")):
        text = text[1:]  # a header row
    try:
        return np.loadtxt(text, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise ValueError(
            f"{path}: expected comma-separated numbers, one row per sample ({exc})"
        ) from None


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
    inputs: Annotated[Path, typer.Argument(help="feature rows: .npy, or comma-separated .csv")],
    output: Annotated[Path | None, typer.Option(help="write predictions to this CSV")] = None,
) -> None:
    """Predict with a trained run for the rows in INPUTS (raw, unscaled features)."""
    from nnlab.runner import predict_run

    if not inputs.is_file():
        _fail(f"input file {inputs} does not exist")
    try:
        result = predict_run(run_dir, _read_rows(inputs))
    except (*USER_ERRORS, ValueError) as exc:
        _fail(str(exc))
    pred = result["prediction"]
    if output is not None:
        np.savetxt(output, pred, delimiter=",", fmt="%s")
        console.print(f"wrote {len(pred)} prediction{'s' * (len(pred) != 1)} to {output}")
        return
    table = Table(title=f"predictions ({len(pred)} row{'s' * (len(pred) != 1)})")
    table.add_column("row", justify="right")
    table.add_column("prediction", justify="right")
    confidence = result.get("confidence")
    if confidence is not None:
        table.add_column("confidence", justify="right")
    for i, p in enumerate(pred[:50]):
        cells = [str(i), f"{p:.4g}" if isinstance(p, float | np.floating) else str(p)]
        if confidence is not None:
            cells.append(f"{confidence[i]:.3f}")
        table.add_row(*cells)
    console.print(table)
    if len(pred) > 50:
        console.print(f"(first 50 of {len(pred)} rows; use --output to write them all)")


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="sentences to embed")],
    top_k: Annotated[int, typer.Option(help="neighbours to list per sentence")] = 3,
) -> None:
    """Embed TEXTS with the pretrained all-MiniLM-L6-v2 sentence encoder (run by nnlab's
    own layers) and list each sentence's nearest neighbours among the others by cosine
    similarity."""
    from nnlab.text import SentenceEncoder

    try:
        encoder = SentenceEncoder()
    except (ImportError, FileNotFoundError) as exc:
        _fail(str(exc))
    vectors = encoder.encode(texts, show_progress_bar=False)
    console.print(f"embeddings: {vectors.shape[0]} × {vectors.shape[1]} (float32, L2-normalised)")
    if len(texts) < 2:
        return
    similarity = vectors @ vectors.T  # unit vectors: the dot product is the cosine
    np.fill_diagonal(similarity, -np.inf)
    table = Table(title=f"nearest neighbours (top {min(top_k, len(texts) - 1)})")
    table.add_column("sentence")
    table.add_column("neighbours (cosine)")
    for i, text in enumerate(texts):
        order = np.argsort(-similarity[i])[: max(1, top_k)]
        table.add_row(text, "\n".join(f"{similarity[i, j]:.3f}  {texts[j]}" for j in order))
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
