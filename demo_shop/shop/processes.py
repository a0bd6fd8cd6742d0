"""Child processes of ``manage.py demo``: start them, watch them, stop them cleanly.

Each child runs in its own session (process group), so Ctrl-C reaches only ``demo``, which
then stops the children itself: a polite SIGTERM to each child first (Celery does its warm
shutdown and stops its own pool, runserver exits), then SIGKILL for the whole process group
of each child, so no prefork pool process is ever left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    proc: subprocess.Popen | None = None
    essential: bool = True  # when an essential child exits, the demo stops

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Supervisor:
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], *, essential: bool = True) -> Child:
        child = Child(name, list(argv), essential=essential)
        child.proc = subprocess.Popen(child.argv, cwd=self.cwd, env=self.env, start_new_session=True)
        self.children.append(child)
        return child

    def wait_for_exit(self, poll_s: float = 0.5, on_exit=None) -> Child:
        """Block until an essential child exits and return it; ``on_exit(child)`` for the others."""
        reported: set[int] = set()
        while True:
            for child in self.children:
                if child.running() or id(child) in reported:
                    continue
                if child.essential:
                    return child
                reported.add(id(child))
                if on_exit is not None:
                    on_exit(child)
            time.sleep(poll_s)

    def stop_all(self, grace_s: float = 15.0) -> None:
        """SIGTERM every running child, wait up to ``grace_s``, then SIGKILL what is left."""
        for child in reversed(self.children):
            if child.running():
                child.proc.send_signal(signal.SIGTERM)  # the leader shuts its own pool down
        deadline = time.monotonic() + grace_s
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # the group may still hold grandchildren (a prefork pool) even if the leader is gone
            _signal_group(child, signal.SIGKILL)
            try:
                child.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


def _signal_group(child: Child, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)  # start_new_session: the group id is the child's pid
    except (ProcessLookupError, PermissionError):
        pass


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
