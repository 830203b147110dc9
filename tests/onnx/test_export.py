"""ONNX export: every exported model passes onnx.checker and onnxruntime reproduces
nnlab's outputs at several batch sizes from one file (the batch dim is dynamic); a run
folder exports with ``export_command`` and the file predicts as ``nnlab predict`` does."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import nnlab
from nnlab import nn
from nnlab.models.lenet import LeNet5
from nnlab.models.text_classifiers import RecurrentClassifier
from nnlab.onnx import UnsupportedModuleError, export
from nnlab.onnx.command import ExportError, export_command
from nnlab.runner import predict_run, train_from_config

pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BATCH_SIZES = (1, 3, 8)
RTOL, ATOL = 1e-5, 1e-5  # float32: two summation orders of the same products


def _randomise_running_stats(model: nn.Module, rng: np.random.Generator) -> None:
    """Non-trivial running statistics, so eval-mode batch norm is not the identity."""
    for m in model.modules():
        if getattr(m, "running_mean", None) is not None:
            m.running_mean.array[...] = rng.standard_normal(m.num_features)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, m.num_features)


def _mlp() -> nn.Module:
    return nn.MLP(6, [16, 12], 4)


def _mlp_norms() -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.5),
        nn.Linear(16, 12), nn.LayerNorm(12), nn.GELU(approximate="tanh"),
        nn.Linear(12, 8), nn.SiLU(), nn.Linear(8, 8), nn.Softplus(beta=2.0),
        nn.Linear(8, 8), nn.ELU(0.7), nn.Linear(8, 8, bias=False), nn.LeakyReLU(0.1),
        nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3),
        nn.LogSoftmax(dim=1),
    )  # fmt: skip


def _lenet() -> nn.Module:
    return LeNet5(activation="relu", pooling="max")


def _lenet_tanh_avg() -> nn.Module:
    return LeNet5(input_size=28)


def _cnn2d() -> nn.Module:
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(2, 4, 3, padding="same"), bn1=nn.BatchNorm2d(4), act1=nn.ReLU(),
        conv2=nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2),
        pool=nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), drop=nn.Dropout2d(0.3),
        conv3=nn.Conv2d(6, 6, 2, dilation=2, bias=False), gap=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(), fc=nn.Linear(6, 5), softmax=nn.Softmax(dim=-1),
    ))  # fmt: skip


def _cnn1d() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, 4, 5, padding=2), nn.BatchNorm1d(4), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(4, 8, 3), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(8 * 3, 3),
    )  # fmt: skip


def _embedding() -> nn.Module:
    # Linear on (N, L, D) exports as MatMul + Add; LayerNorm normalises the last dim.
    return nn.Sequential(
        nn.Embedding(11, 6), nn.LayerNorm(6), nn.Linear(6, 5), nn.ReLU(), nn.Flatten(),
        nn.Linear(5 * 7, 2),
    )  # fmt: skip


def _recurrent(cell: str, num_layers: int, bidirectional: bool):
    # A signal (N, C=2, L=6) read step by step; stacked layers see both directions.
    return lambda: RecurrentClassifier(3, cell=cell, hidden_size=5, num_layers=num_layers,
                                       bidirectional=bidirectional, input_size=2)  # fmt: skip


def _encoder(norm_first: bool, activation: str):
    # Linear and LayerNorm on (N, L, D) too; the sequence flattened for the classifier.
    def build() -> nn.Module:
        layer = nn.TransformerEncoderLayer(8, 2, 16, activation=activation, batch_first=True,
                                           norm_first=norm_first)  # fmt: skip
        return nn.Sequential(nn.Linear(3, 8), nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)),
                             nn.Flatten(), nn.Linear(8 * 5, 2))  # fmt: skip

    return build


def _float_inputs(shape: tuple[int, ...]):
    return lambda rng, n: rng.standard_normal((n, *shape)).astype(np.float32)


def _token_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 11, size=(n, 7)).astype(np.int64)


CASES = {
    "mlp": (_mlp, _float_inputs((6,))),
    "mlp_norms_activations": (_mlp_norms, _float_inputs((6,))),
    "lenet5_relu_max": (_lenet, _float_inputs((1, 32, 32))),
    "lenet5_tanh_avg_28": (_lenet_tanh_avg, _float_inputs((1, 28, 28))),
    "cnn2d_same_groups_dilation": (_cnn2d, _float_inputs((2, 13, 13))),
    "cnn1d": (_cnn1d, _float_inputs((1, 16))),
    "embedding": (_embedding, _token_ids),
    "lstm_2_layers_bidirectional": (_recurrent("lstm", 2, True), _float_inputs((2, 6))),
    "gru_2_layers_bidirectional": (_recurrent("gru", 2, True), _float_inputs((2, 6))),
    "gru": (_recurrent("gru", 1, False), _float_inputs((2, 6))),
    "lstm": (_recurrent("lstm", 1, False), _float_inputs((2, 6))),
    "rnn_tanh_2_layers": (_recurrent("rnn", 2, False), _float_inputs((2, 6))),
    "transformer_encoder_post_norm_relu": (_encoder(False, "relu"), _float_inputs((5, 3))),
    "transformer_encoder_pre_norm_gelu": (_encoder(True, "gelu"), _float_inputs((5, 3))),
}


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _nnlab_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return model(nnlab.tensor(x)).numpy()


@pytest.mark.parametrize("case", list(CASES))
def test_onnxruntime_matches_nnlab_at_every_batch_size(case, tmp_path):
    build, inputs = CASES[case]
    rng = np.random.default_rng(0)
    nnlab.manual_seed(0)
    model = build()
    _randomise_running_stats(model, rng)
    path = tmp_path / "model.onnx"
    export(model, nnlab.tensor(inputs(rng, 2)), path)
    assert model.training, "export restores the model's mode"
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    model.eval()
    session = _session(path)
    for n in BATCH_SIZES:  # one file, batch sizes other than the example's
        x = inputs(rng, n)
        (got,) = session.run(None, {"input": x})
        want = _nnlab_output(model, x)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_a_sequence_first_encoder_layer_with_a_dynamic_dim_1(tmp_path):
    nnlab.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 4, 16).eval()  # (L, N, D): the batch is dim 1
    axes = {"input": {1: "batch"}, "output": {1: "batch"}}
    export(layer, nnlab.randn(5, 2, 8), tmp_path / "layer.onnx", dynamic_axes=axes)
    x = np.random.default_rng(0).standard_normal((5, 4, 8)).astype(np.float32)
    (got,) = _session(tmp_path / "layer.onnx").run(None, {"input": x})
    np.testing.assert_allclose(got, _nnlab_output(layer, x), rtol=RTOL, atol=ATOL)


POOLS = {
    "avg_ceil_partial_window_counting_padding": nn.AvgPool2d(3, 2, 1, ceil_mode=True),
    "avg_ceil_partial_window": nn.AvgPool2d(3, 2, 0, ceil_mode=True, count_include_pad=False),
    "max_ceil_padding": nn.MaxPool2d(3, 2, 1, ceil_mode=True),
    "max_dilation": nn.MaxPool2d(3, 2, 1, dilation=2),
}


@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_edge_windows_match(name):
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32)
    proto = export(POOLS[name], nnlab.tensor(x), None)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0],
                               _nnlab_output(POOLS[name], x), rtol=RTOL, atol=ATOL)  # fmt: skip


def test_a_last_window_torch_drops_is_refused():
    # 7 + 2·1 padding, windows of 2 at stride 2: the fifth window would start in the padding.
    with pytest.raises(UnsupportedModuleError, match=r"torch drops the last window"):
        export(nn.MaxPool2d(2, 2, 1, ceil_mode=True), nnlab.randn(1, 1, 7, 7), None)


def test_torch_argument_names_and_static_shapes(tmp_path):
    nnlab.manual_seed(0)
    model = _mlp()
    proto = export(model, (nnlab.randn(3, 6),), None, input_names=["features"],
                   output_names=["logits"], dynamic_axes={})  # fmt: skip
    dims = [[d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]
            for v in (proto.graph.input[0], proto.graph.output[0])]  # fmt: skip
    assert [proto.graph.input[0].name, proto.graph.output[0].name] == ["features", "logits"]
    assert dims == [[3, 6], [3, 4]]
    proto = export(model, nnlab.randn(3, 6), None, dynamic_axes={"input": [0], "output": [0]})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "input_dynamic_axes_1"


def test_a_file_object_receives_the_model(tmp_path):
    nnlab.manual_seed(0)
    with open(tmp_path / "m.onnx", "wb") as f:
        export(_mlp(), nnlab.randn(2, 6), f)
    assert onnx.load(str(tmp_path / "m.onnx")).producer_name == "nnlab"


def test_unsupported_modules_are_named_by_path_and_type():
    model = nn.Sequential(OrderedDict(
        body=nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 4)), head=nn.Linear(4, 2)
    ))  # fmt: skip
    with pytest.raises(UnsupportedModuleError, match=r"body\.1 \(LSTM\): no ONNX conversion"):
        export(model, nnlab.randn(2, 4), None)

    class Doubled(nn.Linear):  # a new forward is a new function: not exported as Linear
        def forward(self, input):
            return super().forward(input) * 2

    with pytest.raises(UnsupportedModuleError, match=r"0 \(Doubled\)"):
        export(nn.Sequential(Doubled(4, 2)), nnlab.randn(2, 4), None)
    with pytest.raises(UnsupportedModuleError, match=r"track_running_stats=False"):
        export(nn.BatchNorm1d(4, track_running_stats=False), nnlab.randn(2, 4), None)
    with pytest.raises(UnsupportedModuleError, match=r"dim=None"):
        export(nn.Softmax(), nnlab.randn(2, 4), None)
    with pytest.raises(ValueError, match="opset_version must be at least 17"):
        export(nn.ReLU(), nnlab.randn(2, 4), None, opset_version=13)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return train_from_config(CONFIGS / "digits_mlp.toml", output_dir=str(out), epochs=1,
                             verbose=False).run_dir  # fmt: skip


def test_a_run_exports_and_predicts_as_nnlab_predict(digits_run):
    path = export_command(digits_run)
    assert path == digits_run / "model.onnx"
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    prep = json.loads(props["nnlab.preprocessing"])
    stats = prep["statistics"]  # the file carries the scaling its inputs need
    rows = np.random.default_rng(1).uniform(0, 16, size=(6, 64))
    x = ((rows - np.asarray(stats["mean_"])) / np.asarray(stats["scale_"])).astype(np.float32)
    (logits,) = _session(path).run(None, {"input": x})
    e = np.exp(logits - logits.max(1, keepdims=True))
    want = predict_run(digits_run, rows)
    np.testing.assert_array_equal(logits.argmax(1), want["prediction"])
    np.testing.assert_allclose(e / e.sum(1, keepdims=True), want["probabilities"], atol=1e-5)


def test_the_command_keeps_an_existing_file_unless_told(digits_run, tmp_path):
    out = tmp_path / "deploy" / "digits.onnx"
    export_command(digits_run, out=out)
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_command(digits_run, out=out)
    assert export_command(digits_run, out=out, overwrite=True) == out
    with pytest.raises(ExportError, match="--format must be 'onnx'"):
        export_command(digits_run, format="tflite", out=tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="not a finished run folder"):
        export_command(tmp_path)


def test_a_recurrent_run_exports(tmp_path):
    run = train_from_config(CONFIGS / "gru_mnist1d.toml", output_dir=str(tmp_path), epochs=1,
                            verbose=False).run_dir  # fmt: skip
    path = export_command(run)  # checked against nnlab's outputs before it is written
    (graph_input,) = onnx.load(str(path)).graph.input
    assert [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim] == [
        "batch", 1, 40,
    ]  # fmt: skip


def test_token_input_recurrent_classifiers_are_refused():
    model = RecurrentClassifier(2, cell="gru", hidden_size=4, vocab_size=9, embed_dim=3)
    with pytest.raises(UnsupportedModuleError, match=r"\(RecurrentClassifier\): token input"):
        export(model, nnlab.tensor([[1, 2, 0]]), None)


def test_nnlab_export_writes_the_file_and_refuses_to_overwrite_it(digits_run, tmp_path):
    from typer.testing import CliRunner

    from nnlab.cli import app

    out = tmp_path / "cli.onnx"
    first = CliRunner().invoke(app, ["export", str(digits_run), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert out.is_file() and "wrote" in first.output
    again = CliRunner().invoke(app, ["export", str(digits_run), "--out", str(out)])
    assert again.exit_code == 2 and again.output.startswith("error:"), again.output
    wrong = CliRunner().invoke(app, ["export", str(digits_run), "--format", "tflite"])
    assert wrong.exit_code == 2 and "error:" in wrong.output
