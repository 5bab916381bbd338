"""`previewgate serve --workers N`: N processes, each with its own listening socket.

uvicorn's own ``--workers`` shares one listening socket among its processes: whichever
idle worker wakes first accepts, so a client that opens its keep-alive pool in one burst
often lands every connection on one worker (4 of 16 benchmark runs put all the load on
one). Here every worker listens on its own socket bound with ``SO_REUSEPORT``, and the
kernel hashes each new connection to one of them.

Why our own small supervisor: uvicorn's (``uvicorn.supervisors.Multiprocess``) hands every
worker the same socket list, and gunicorn is not a dependency (it would take two: gunicorn
and uvicorn-worker; its ``reuse_port`` gives each worker its own socket only since 2024).
The workers run on uvicorn's public ``Config``/``Server`` and are started with
multiprocessing's spawn, as uvicorn starts its own. The supervision is deliberately small:

* SIGTERM or SIGINT to the parent: every worker gets SIGTERM, drains (uvicorn's graceful
  shutdown, then the app's lifespan shutdown flushes usage rows) and the parent waits for
  all of them. A second signal kills the workers that are still draining.
* A worker that exits on its own stops the gateway: the others drain and the parent exits
  with status 1. Restarting is left to the process manager (systemd, Kubernetes), which
  backs off and records a crash loop instead of hiding it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

import click
import uvicorn

log = logging.getLogger(__name__)


def bind_reuseport(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` in its SO_REUSEPORT group, not listening yet.

    uvicorn calls ``listen()`` once the app has started, so the kernel hands a worker
    connections only when it can serve them (never while it is still importing).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """One socket per worker, all on the same port (the first one's, when ``port`` is 0)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(bind_reuseport(host, port))
            port = sockets[0].getsockname()[1]
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sockets


def _worker(config: uvicorn.Config, sock: socket.socket, init: Callable[[], object]) -> None:
    """Entry point of one worker process (spawned: nothing is inherited but the socket)."""
    init()
    config.configure_logging()
    # uvicorn re-raises SIGINT after draining; the parent is already stopping us.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def _signals_to(wakeup: socket.socket) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM only write their number to ``wakeup``'s peer."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous_fd = signal.set_wakeup_fd(wakeup.fileno())
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while sock.recv(64):
            pass


def _stop(workers: list[BaseProcess], signals: socket.socket) -> None:
    for proc in workers:
        if proc.exitcode is None:
            proc.terminate()
    while running := [p for p in workers if p.exitcode is None]:
        if signals in wait([signals, *(p.sentinel for p in running)]):
            log.warning("second signal: killing %d draining worker(s)", len(running))
            for proc in running:
                proc.kill()
            break
    for proc in workers:
        proc.join()


def run_workers(config: uvicorn.Config, count: int, init: Callable[[], object]) -> int:
    """Serve with ``count`` worker processes until a signal or a worker's exit.

    ``init`` runs first in each worker (it must be picklable, e.g. a module-level function
    or a partial of one). Returns the exit status: 0 after a requested stop, 1 if a worker
    exited on its own.
    """
    sockets = bind_sockets(config.host, config.port, count)
    host, port = sockets[0].getsockname()[:2]
    spawn = multiprocessing.get_context("spawn")
    workers: list[BaseProcess] = []
    failed = True
    signals, wakeup = socket.socketpair()
    for end in (signals, wakeup):
        end.setblocking(False)
    with signals, wakeup, _signals_to(wakeup):
        try:
            for n, sock in enumerate(sockets):
                proc = spawn.Process(target=_worker, args=(config, sock, init), name=f"worker-{n}")
                proc.start()
                workers.append(proc)
                # The worker holds its own copy now. Closing ours matters: a socket left
                # open here would stay in the group and take connections nobody accepts.
                sock.close()
            log.info("gateway on http://%s:%d with %d workers", host, port, count)
            ready = wait([signals, *(p.sentinel for p in workers)])
            failed = signals not in ready
            if failed:
                dead = next(p for p in workers if p.sentinel in ready)
                dead.join()  # its sentinel can fire just before it can be reaped
                log.error(
                    "worker %s exited (status %s); stopping the gateway", dead.pid, dead.exitcode
                )
            _drain(signals)
        finally:
            for sock in sockets:
                sock.close()
            _stop(workers, signals)
    return 1 if failed else 0
