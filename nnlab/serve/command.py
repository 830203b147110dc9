"""``nnlab serve RUN``: the inference server of a finished run, on uvicorn."""

from __future__ import annotations

from pathlib import Path

__all__ = ["serve_command"]


def serve_command(run_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the run in ``run_dir`` at ``http://HOST:PORT`` until interrupted (Ctrl-C).

    The default host answers this machine only; ``--host 0.0.0.0`` exposes the server to
    the network. A folder that is not a finished run fails before anything listens.
    """
    import uvicorn  # lazy: the rest of the CLI starts without it

    from nnlab.serve.app import create_app

    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {port}")
    uvicorn.run(create_app(run_dir), host=host, port=port, log_level="info")
