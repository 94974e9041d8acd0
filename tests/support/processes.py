"""Child processes of the tests and benchmarks (servers, the curator's
workbench): stopping one without leaving it behind."""
from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Ask `proc` to stop (SIGTERM) and wait for it; kill it if it has not
    stopped within `timeout` seconds. A process that has ended already is left as it is."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
