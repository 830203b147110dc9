"""The ``nnlab`` command line: train from a TOML config, evaluate a run, predict with it.

nnlab train configs/digits_mlp.toml
nnlab evaluate runs/digits-mlp-20261121-101500
nnlab predict runs/digits-mlp-20261121-101500 samples.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="nnlab: train, evaluate and use neural networks.", no_args_is_help=True)
console = Console()


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


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="TOML run configuration")],
    output_dir: Annotated[str | None, typer.Option(help="where run folders go")] = None,
    epochs: Annotated[int | None, typer.Option(help="override training.epochs")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress output")] = False,
) -> None:
    """Train the model described by CONFIG and write a run folder."""
    from nnlab.config import ConfigError
    from nnlab.runner import train_from_config
    from nnlab.train import NonFiniteLossError

    try:
        result = train_from_config(config, output_dir=output_dir, epochs=epochs, verbose=not quiet)
    except ConfigError as exc:
        _fail(str(exc))
    except NonFiniteLossError as exc:
        _fail(f"training stopped: {exc}", code=1)
    console.print(_metrics_table("final metrics", result.metrics))
    console.print(f"run folder: [bold]{result.run_dir}[/]", highlight=False)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
) -> None:
    """Evaluate a trained run's model on its test split."""
    from nnlab.runner import evaluate_run

    try:
        metrics = evaluate_run(run_dir)
    except FileNotFoundError as exc:
        _fail(str(exc))
    console.print(_metrics_table(f"test metrics of {run_dir}", {"test": metrics}))


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run folder from `nnlab train`")],
    inputs: Annotated[Path, typer.Argument(help="feature rows: .npy, or .csv without header")],
    output: Annotated[Path | None, typer.Option(help="write predictions to this CSV")] = None,
) -> None:
    """Predict with a trained run for the rows in INPUTS (raw, unscaled features)."""
    from nnlab.runner import predict_run

    if not inputs.is_file():
        _fail(f"input file {inputs} does not exist")
    x = np.load(inputs) if inputs.suffix == ".npy" else np.loadtxt(inputs, delimiter=",", ndmin=2)
    try:
        result = predict_run(run_dir, x)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    pred = result["prediction"]
    if output is not None:
        np.savetxt(output, pred, delimiter=",", fmt="%s")
        console.print(f"wrote {len(pred)} predictions to {output}")
        return
    table = Table(title=f"predictions ({len(pred)} rows)")
    table.add_column("row", justify="right")
    table.add_column("prediction", justify="right")
    extra = "probabilities" if "probabilities" in result else "probability"
    if extra in result:
        table.add_column("confidence", justify="right")
    for i, p in enumerate(pred[:50]):
        conf = result.get(extra)
        cells = [str(i), str(p)]
        if conf is not None:
            cells.append(f"{(conf[i].max() if conf.ndim > 1 else conf[i]):.3f}")
        table.add_row(*cells)
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
