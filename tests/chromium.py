"""What the browser tests share: Debian's chromium, its flags, and stopping a server they started."""

import os
import signal
import subprocess

CHROMIUM = "/usr/bin/chromium"
"""Debian's chromium (``make browser-deps``); playwright drives it, never a browser of its own."""

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
"""Headless, as root, and quiet: no connection of its own (this machine has no network)."""


def stop_group(proc, timeout=20):
    """Stop a server started with ``start_new_session=True``: SIGTERM to its group, then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
