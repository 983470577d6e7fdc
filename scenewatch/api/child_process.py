"""What the server's child processes share: spawning one with two one-way pipes, the outbox of
messages to the server (log records included), the child's CPU priority and how it ended.

Two children use it: the pipeline (:mod:`scenewatch.api.pipeline_process`) and the alert-clip
pre-renderer (:mod:`scenewatch.api.clip_prerender`). Each message is a tuple whose first item
names it; ``("log", record)`` is handled by the server's logging as its own record.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from logging.handlers import QueueHandler
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any


def spawn(target: Callable[..., None], job: Any, name: str) -> tuple[BaseProcess, Connection, Connection]:
    """Start ``target(commands, messages, job)`` in a fresh interpreter (no locks or threads
    copied); returns the process, the end that sends it commands and the end it writes to."""
    context = multiprocessing.get_context("spawn")
    commands, child_commands = context.Pipe(duplex=False)
    child_messages, messages = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(commands, messages, job), name=name)
    process.daemon = True  # never outlives the server
    process.start()
    commands.close()  # the child's ends: its death then reads as the end of the pipe here
    messages.close()
    return process, child_commands, child_messages


class Outbox:
    """Messages to the server, sent by any thread of the child: one at a time. Once the server is
    gone, sending does nothing."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._lock = threading.Lock()
        self.closed = False

    def send(self, *message: Any) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # the server closed its end; the command loop stops us
                self.closed = True

    def put_nowait(self, record: logging.LogRecord) -> None:
        """The log handler's queue (``QueueHandler``): records go to the server's logging."""
        self.send("log", record)


def forward_logs(outbox: Outbox, levels: dict[str, int]) -> None:
    """Records go to the server, which formats and writes them as its own; each logger keeps the
    level the server gave it, so nothing it would drop is sent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(QueueHandler(outbox))  # type: ignore[arg-type]  # any object with put_nowait
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)


def handle_log(record: logging.LogRecord) -> None:
    """A child's record, in the server: handled by its logger here."""
    logging.getLogger(record.name).handle(record)


def log_levels() -> dict[str, int]:
    """The levels this process set: the root's, and each logger's own (alembic's, say)."""
    manager = logging.Logger.manager
    levels = {"": logging.getLogger().level}
    for name, logger in manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


def lower_priority(nice: int) -> None:
    """Add ``nice`` to this process's niceness. Linux keeps it per thread, and imports have started
    threads already (numerical libraries' pools): each gets it; threads started later inherit it."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        os.nice(nice)
        return
    for task in tasks.iterdir():
        tid = int(task.name)
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


def exit_text(code: int | None) -> str:
    """How a child ended, from its exit code (negative: the signal that ended it).

    >>> exit_text(-9), exit_text(1)
    ('killed by signal 9 (SIGKILL)', 'exit status 1')
    """
    import signal

    if code is not None and code < 0:
        try:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
