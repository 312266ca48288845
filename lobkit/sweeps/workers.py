"""Worker processes of a sweep: how many, how they start, and how a sweep stops without leaving any behind.

How many. A simulation is CPU-bound and single-threaded, so more worker processes than usable cores only
adds start-up time, memory and context switches, and more workers than simulations to run leaves the extra
ones idle. :func:`worker_count` therefore caps the requested number at both (``jobs=-1``: every usable core)
and says so on stderr when it caps a number that was asked for. The same rule serves ``lobkit sweep``,
:func:`lobkit.sweeps.runner.sweep` (loky) and the local Dask cluster that ``backend="dask"`` starts without a
scheduler. A remote Dask cluster keeps the workers it has.

Stopping. Whatever stops a sweep, no process of it is left running:

- Ctrl-C (SIGINT to the whole process group, as a terminal sends it), SIGTERM or SIGHUP to the sweep: the
  sweep process turns the signal into :class:`SweepInterrupted` (:func:`stop_on_signals`), kills its workers
  (loky: ``terminate(kill_workers=True)``; Dask: the local cluster is closed) and re-raises. Workers ignore
  SIGINT themselves, so that the parent alone decides. Signals that were set to be ignored (``nohup``) stay
  ignored, and a handler the program installed itself is left alone.
- The sweep process is killed outright (SIGKILL, out of memory): its workers notice and exit. loky has no such
  mechanism of its own (a worker orphaned in the middle of a task finishes it, and an idle one waits for its
  idle timeout, 300 s); distributed's worker processes exit when a pipe from their parent closes, but only once
  the running simulation returns (the jitted loop holds the GIL). So each worker arms :func:`exit_with_parent`:
  on Linux the kernel sends it SIGKILL the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``), elsewhere a
  thread polls the parent every half second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

#: How often the fallback watchdog checks that the sweep process is still there (seconds).
PARENT_POLL_S = 0.5


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was stopped by a signal (SIGINT, SIGTERM or SIGHUP); ``signum`` says which.

    A :class:`KeyboardInterrupt`, so that ``except Exception`` does not swallow it; the finished
    configurations are on disk, and the same sweep with ``resume=True`` (``--resume``) completes the rest.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        """The shell's exit status of a process stopped by this signal: ``128 + signum`` (130 for Ctrl-C)."""
        return 128 + self.signum


# ------------------------------------------------------------------------------------------ how many


def usable_cores() -> int:
    """The CPU cores this process may use: the affinity mask and a cgroup CPU quota taken into account
    (``joblib.cpu_count()``), at least 1."""
    try:
        from joblib import cpu_count

        return max(1, int(cpu_count()))
    except Exception:  # noqa: BLE001 - joblib missing or broken: the affinity mask, then the core count
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):
            return max(1, os.cpu_count() or 1)


def worker_count(jobs: int, n_simulations: int, cores: int | None = None) -> tuple[int, str | None]:
    """The number of worker processes for ``n_simulations`` simulations when ``jobs`` were asked for
    (``-1``: every usable core).

    The rule: ``min(jobs, usable cores, n_simulations)``, at least 1. Returns ``(workers, note)`` where
    ``note`` says why fewer workers than asked are used (None when ``jobs`` was granted, or was ``-1``).
    """
    cores = usable_cores() if cores is None else max(1, int(cores))
    asked = cores if jobs == -1 else int(jobs)
    workers = max(1, min(asked, cores, max(1, n_simulations)))
    if jobs == -1 or workers >= asked:
        return workers, None
    why = []
    if cores < asked:
        why.append(f"{cores} usable CPU core{'s' if cores != 1 else ''}")
    if n_simulations < asked:
        why.append(f"{n_simulations} simulation{'s' if n_simulations != 1 else ''} to run")
    return workers, (f"sweep: using {workers} worker process{'es' if workers != 1 else ''}, not {asked}: "
                     f"{' and '.join(why)} (more workers would not make the sweep faster)")


def note(text: str) -> None:
    """Print a one-line note about the sweep on stderr."""
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- in the workers


def _set_pdeathsig(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies. False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def exit_with_parent(parent_pid: int, kernel: bool = True) -> None:
    """Make this (worker) process exit when ``parent_pid``, the sweep process that started it, dies.

    ``kernel``: also ask the kernel for SIGKILL on the parent's death (Linux; immediate, even while a jitted
    simulation holds the GIL). Linux ties that to the *thread* that started the process, so the sweep asks
    for it only when it runs in its main thread. A daemon thread checks ``os.getppid()`` every
    :data:`PARENT_POLL_S` seconds as well (any POSIX system; it runs between simulations). Exits at once when
    the parent is already gone.
    """
    if kernel:
        _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent_pid:  # died before the watch was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="lobkit-sweep-parent-watch", daemon=True).start()


def worker_init(parent_pid: int, kernel: bool = True, sys_path: tuple[str, ...] = ()) -> None:
    """The initializer of every loky worker of a sweep: ignore SIGINT and SIGHUP (on Ctrl-C or a hang-up, which
    a terminal sends to the whole process group, the sweep process alone stops the sweep and kills its workers,
    instead of each worker dying or raising KeyboardInterrupt mid-task), exit with the sweep process
    (:func:`exit_with_parent`), and import from where the sweep process does: ``sys_path`` (the parent's
    ``sys.path``) goes first on the worker's, so that a user's agent or flow module found there is found here. As
    it is one of the initializer's arguments, a sweep started after the parent's ``sys.path`` changed gets fresh
    workers (loky replaces a reusable pool whose initializer arguments differ)."""
    if sys_path:
        sys.path[:0] = [p for p in sys_path if p not in sys.path]
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    exit_with_parent(parent_pid, kernel)


def start_helpers_deaf_to_hangup(loky: bool = True) -> None:
    """Start the resource trackers (multiprocessing's, and loky's when ``loky``: processes that remove a pool's
    semaphores and shared-memory folders when it ends) now, with SIGHUP blocked, which they inherit. A hang-up
    of the terminal then reaches the sweep process, which stops the pool in order, instead of killing a tracker
    mid-sweep (a new one would then report the old one's objects as unknown). The trackers still exit when the
    sweep process does. Does nothing where they already run, or outside the main thread."""
    if not hasattr(signal, "SIGHUP") or not hasattr(signal, "pthread_sigmask"):
        return
    if threading.current_thread() is not threading.main_thread():
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        from multiprocessing import resource_tracker as mp_tracker

        if loky:
            from joblib.externals.loky.backend import resource_tracker as loky_tracker

            loky_tracker.ensure_running()
        mp_tracker.ensure_running()
    except Exception:  # noqa: BLE001 - only a refinement: the pool starts them itself otherwise
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def dask_worker_init(parent_pid: int) -> int:
    """Run in each worker of a local Dask cluster the sweep started (``client.run``): the same as
    :func:`worker_init`. Returns the worker's pid."""
    for name in ("SIGINT", "SIGHUP"):
        with contextlib.suppress(ValueError, AttributeError):  # not the main thread: keep distributed's handling
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    exit_with_parent(parent_pid, kernel=True)
    return os.getpid()


# --------------------------------------------------------------------------------- in the sweep process

STOP_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGINT, SIGTERM and SIGHUP raise :class:`SweepInterrupted` in the main thread, so
    that the sweep's clean-up (killing its workers) runs; a second signal while it stops is ignored.

    Only signals with their default disposition are taken over (SIGINT: Python's KeyboardInterrupt handler):
    an ignored signal (``nohup``) or a handler of the program stays as it is. Outside the main thread (where
    Python cannot set handlers) this does nothing. The previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum, frame):  # noqa: ARG001
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise SweepInterrupted(signum)

    previous = {}
    for sig in STOP_SIGNALS:
        cur = signal.getsignal(sig)
        if cur is signal.SIG_DFL or (sig == signal.SIGINT and cur is signal.default_int_handler):
            previous[sig] = cur
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, cur in previous.items():
            signal.signal(sig, cur)
