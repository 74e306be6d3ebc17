"""Issue 22 (demo): ``serve --demo`` removes its temporary atlas folder however it is stopped normally.

Uvicorn stops on SIGINT or SIGTERM and then sends the signal again to the process; SIGTERM's default action killed
the process before the folder could be removed, leaving a demo atlas in the system's temporary folder per run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


@pytest.mark.parametrize("stop", [signal.SIGTERM])  # SIGINT raises KeyboardInterrupt, which always cleaned up
def test_serve_demo_leaves_no_folder_behind(tmp_path, stop):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    temp = tmp_path / "tmp"  # the system's temporary folder, as the server sees it
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", "from clusteratlas.cli import run; run()", "serve", "--demo", "--port", str(port),
         "--no-warm"], env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        folders = list(temp.glob("clusteratlas-serve-demo-*"))
        assert len(folders) == 1 and (folders[0] / "demo.duckdb").exists()  # the demo is where it is expected
        process.send_signal(stop)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert code in (-stop, 128 + stop, 0, 1), code  # stopped by the signal, not crashed
    assert list(temp.iterdir()) == [], list(temp.iterdir())
