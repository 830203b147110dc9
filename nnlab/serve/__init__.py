"""Serve a finished run over HTTP: ``create_app(run_dir)`` builds the FastAPI app
(``GET /health``, ``GET /metadata``, ``POST /predict``) whose predictions are
``nnlab predict``'s, with concurrent requests stacked into shared forward passes."""

from nnlab.serve.app import create_app
from nnlab.serve.batching import MicroBatcher
from nnlab.serve.command import serve_command

__all__ = ["MicroBatcher", "create_app", "serve_command"]
