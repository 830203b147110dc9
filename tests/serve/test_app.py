"""The inference server answers as ``nnlab predict`` does, refuses bad requests with a 4xx
that names the place, and stacks concurrent requests into shared forward passes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import nnlab
import nnlab.serve.app as serve_app
from nnlab.cli import app as cli_app
from nnlab.data.datasets import load_digits
from nnlab.runner import predict_run, train_from_config
from nnlab.serve.app import create_app
from nnlab.serve.batching import MicroBatcher
from nnlab.serve.command import serve_command

pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TEXTS = ["a good film", "not good at all", "boring and far too long", "wonderful"]


def _train(config: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(config)
    return train_from_config(CONFIGS / config, output_dir=str(out), epochs=1, verbose=False).run_dir


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    return _train("digits_mlp.toml", tmp_path_factory)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return load_digits()[0][:40]


@pytest.fixture(scope="module")
def client(digits_run):
    with TestClient(create_app(digits_run, max_request_rows=50)) as c:
        yield c


def _assert_same(answer: dict, expected: dict[str, np.ndarray], exact: bool = True) -> None:
    """The server's answer holds every output of ``predict_run``; class predictions are
    equal, probabilities equal (exact) or equal to float32 rounding (a row stacked with
    other requests' rows goes through a larger matrix product)."""
    assert set(answer) == set(expected)
    np.testing.assert_array_equal(answer["prediction"], expected["prediction"])
    for name in set(expected) - {"prediction"}:
        if exact:
            np.testing.assert_array_equal(answer[name], expected[name])
        else:
            np.testing.assert_allclose(answer[name], expected[name], rtol=1e-5, atol=1e-6)


def test_health_and_metadata(client, digits_run):
    assert client.get("/health").json() == {"status": "ok"}
    meta = client.get("/metadata").json()
    assert meta["run"] == digits_run.name and meta["name"] == "digits-mlp"
    assert meta["task"] == "classification" and meta["classes"] == list(range(10))
    assert meta["input"] == {"kind": "features", "field": "rows", "n_features": 64}
    assert meta["nnlab_version"] == nnlab.__version__ and meta["max_request_rows"] == 50


def test_predict_equals_nnlab_predict(client, digits_run, rows, tmp_path):
    answer = client.post("/predict", json={"rows": rows[:7].tolist()})
    assert answer.status_code == 200, answer.text
    _assert_same(answer.json(), predict_run(digits_run, rows[:7]))
    # ... and the command line's own output, written to a CSV
    np.save(tmp_path / "rows.npy", rows[:7])
    out = CliRunner().invoke(cli_app, ["predict", str(digits_run), str(tmp_path / "rows.npy"),
                                       "--output", str(tmp_path / "p.csv")])  # fmt: skip
    assert out.exit_code == 0, out.output
    cli = np.loadtxt(tmp_path / "p.csv", dtype=np.int64)
    np.testing.assert_array_equal(answer.json()["prediction"], cli)


def test_image_rows_and_text_runs_predict_as_nnlab_predict(tmp_path_factory, rows):
    image_run = _train("lenet5_digits.toml", tmp_path_factory)
    images = np.kron(rows[:3] / 16, np.ones((4, 4))[None]).reshape(3, 1, 32, 32)
    with TestClient(create_app(image_run)) as c:
        meta = c.get("/metadata").json()
        assert meta["input"]["kind"] == "image" and meta["input"]["shape"] == [1, 32, 32]
        _assert_same(c.post("/predict", json={"rows": images.tolist()}).json(),
                     predict_run(image_run, images))  # fmt: skip
        _assert_same(c.post("/predict", json={"rows": rows[:3].tolist()}).json(),
                     predict_run(image_run, rows[:3]))  # fmt: skip
        bad = c.post("/predict", json={"rows": images[:, :, :31].tolist()})
        assert bad.status_code == 422 and "rows[0][0] has 31 values" in bad.text
    text_run = _train("bow_sentiment.toml", tmp_path_factory)
    with TestClient(create_app(text_run)) as c:
        assert c.get("/metadata").json()["input"] == {"kind": "text", "field": "texts"}
        _assert_same(c.post("/predict", json={"texts": TEXTS}).json(), predict_run(text_run, TEXTS))
        wrong = c.post("/predict", json={"rows": [[1.0, 2.0]]})
        assert wrong.status_code == 400
        assert 'this run reads texts: send {"texts": [...]}' in wrong.json()["detail"]
        assert c.post("/predict", json={"texts": ["fine", 3]}).status_code == 422


def _error(client: TestClient, status: int, body: dict | str) -> str:
    """The error text of a request that must fail with ``status``."""
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    answer = client.post("/predict", headers={"content-type": "application/json"}, **kwargs)
    assert answer.status_code == status, answer.text
    return json.dumps(answer.json()["detail"])


def test_each_bad_request_gets_a_4xx_naming_the_place(client, rows):
    good = rows[:3].tolist()
    short = [good[0], good[1][:63], good[2]]
    assert "rows[1] has 63 values; the model expects 64" in _error(client, 422, {"rows": short})
    word = [good[0], [*good[1][:5], "seven", *good[1][6:]]]
    assert 'rows[1][5] is \\"seven\\": every value must be a number' in _error(
        client, 422, {"rows": word}
    )
    flag = [[True, *good[0][1:]]]
    assert "rows[0][0] is true" in _error(client, 422, {"rows": flag})
    # JSON has no NaN, but Python's parser (and many clients) accept the literal
    nan = json.dumps({"rows": good}).replace("0.0", "NaN", 1)
    assert "is nan: every value must be a finite float32" in _error(client, 422, nan)
    huge = [[1e39, *good[0][1:]]]
    assert "rows[0][0] is 1e+39" in _error(client, 422, {"rows": huge})
    assert "rows" in _error(client, 422, {"rows": [good[0], 5.0]})  # a row that is no list
    assert "rows is empty" in _error(client, 422, {"rows": []})
    assert "extra" in _error(client, 422, {"rows": good, "labels": [1, 2, 3]})
    assert "51 rows in one request; the limit is 50" in _error(client, 413, {"rows": good * 17})
    assert 'send {\\"rows\\": [...]}' in _error(client, 400, {"texts": ["a digit"]})
    assert "send" in _error(client, 400, {})
    assert client.post("/predict", json={"rows": good}).status_code == 200  # still serving


def test_a_body_over_the_limit_gets_413(digits_run, rows):
    with TestClient(create_app(digits_run, max_body_bytes=2000)) as c:
        assert "limit is 2000 bytes" in _error(c, 413, {"rows": rows[:10].tolist()})
        assert c.post("/predict", json={"rows": rows[:1].tolist()}).status_code == 200


def test_microbatcher_stacks_concurrent_requests_into_one_forward_pass():
    calls: list[int] = []

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(len(x))
        return {"prediction": x.sum(1), "double": 2 * x}

    async def main() -> list[dict[str, np.ndarray]]:
        batcher = MicroBatcher(predict, max_batch_size=64, max_wait_ms=1000)
        try:  # 32 requests of 2 rows fill one batch of 64: no wait for the window
            return await asyncio.gather(*(batcher.submit(inputs[i]) for i in range(32)))
        finally:
            await batcher.close()

    inputs = np.arange(32 * 2 * 3, dtype=np.float64).reshape(32, 2, 3)
    answers = asyncio.run(main())
    assert calls == [64]
    for x, answer in zip(inputs, answers, strict=True):
        np.testing.assert_array_equal(answer["prediction"], x.sum(1))
        np.testing.assert_array_equal(answer["double"], 2 * x)


def test_a_request_over_the_batch_size_runs_alone_and_order_is_kept():
    calls: list[int] = []

    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        calls.append(len(x))
        return {"prediction": x[:, 0]}

    async def main() -> list[dict[str, np.ndarray]]:
        batcher = MicroBatcher(predict, max_batch_size=64, max_wait_ms=50)
        requests = [np.full((n, 1), float(n)) for n in (3, 70, 2)]
        try:
            return await asyncio.gather(*map(batcher.submit, requests))
        finally:
            await batcher.close()

    answers = asyncio.run(main())
    assert calls == [3, 70, 2]
    assert [a["prediction"].tolist() for a in answers] == [[3.0] * 3, [70.0] * 70, [2.0] * 2]


def test_a_failing_row_fails_only_its_own_request():
    def predict(x: np.ndarray) -> dict[str, np.ndarray]:
        if (x < 0).any():
            raise ValueError("negative")
        return {"prediction": x[:, 0]}

    async def main() -> list:
        batcher = MicroBatcher(predict, max_batch_size=8, max_wait_ms=50)
        requests = [np.full((2, 1), v) for v in (1.0, -1.0, 3.0)]
        try:
            return await asyncio.gather(*map(batcher.submit, requests), return_exceptions=True)
        finally:
            await batcher.close()

    ok, bad, ok2 = asyncio.run(main())
    assert isinstance(bad, ValueError) and ok["prediction"].tolist() == [1.0, 1.0]
    assert ok2["prediction"].tolist() == [3.0, 3.0]


def test_the_app_stacks_concurrent_requests_and_every_answer_matches(digits_run, rows, monkeypatch):
    forward_rows: list[int] = []

    def counting_predict_run(run_dir, inputs):
        forward_rows.append(len(inputs))
        return predict_run(run_dir, inputs)

    monkeypatch.setattr(serve_app, "predict_run", counting_predict_run)
    app = create_app(digits_run, max_batch_size=64, max_wait_ms=200)

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as c:
            posts = [c.post("/predict", json={"rows": rows[i : i + 2].tolist()})
                     for i in range(0, 40, 2)]  # fmt: skip
            try:
                return await asyncio.gather(*posts)
            finally:
                await app.state.batcher.close()

    answers = asyncio.run(main())
    assert len(forward_rows) < len(answers) and sum(forward_rows) == 40
    assert app.state.batcher.forward_passes == len(forward_rows)
    direct = predict_run(digits_run, rows)
    for i, answer in zip(range(0, 40, 2), answers, strict=True):
        _assert_same(answer.json(), {k: v[i : i + 2] for k, v in direct.items()}, exact=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loopback_load_every_answer_equals_the_direct_prediction(digits_run, rows):
    """200 concurrent requests to a real uvicorn server on 127.0.0.1 (a correctness check
    under load, bounded in count and time; it asserts nothing about speed)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(digits_run), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        picks = [(i % 40, 1 + i % 3) for i in range(200)]  # (first row, row count)
        pool = np.concatenate([rows, rows[:2]])

        async def main() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=50)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                         timeout=20) as c:  # fmt: skip
                posts = [c.post("/predict", json={"rows": pool[i : i + n].tolist()})
                         for i, n in picks]  # fmt: skip
                return await asyncio.wait_for(asyncio.gather(*posts), timeout=25)

        answers = asyncio.run(main())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    direct = predict_run(digits_run, pool)
    for (i, n), answer in zip(picks, answers, strict=True):
        assert answer.status_code == 200, answer.text
        _assert_same(answer.json(), {k: v[i : i + n] for k, v in direct.items()}, exact=False)


def test_serve_command_refuses_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a finished run folder"):
        serve_command(tmp_path, port=_free_port())
    with pytest.raises(ValueError, match="--port"):
        serve_command(tmp_path, port=70000)


def test_nnlab_serve_refuses_a_folder_that_is_not_a_run(tmp_path):
    from typer.testing import CliRunner

    from nnlab.cli import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--port", "8765"])
    assert result.exit_code == 2 and result.output.startswith("error:"), result.output
