"""Where chunks run: this process, a local process pool, or a Dask cluster.

Backends only decide where :func:`sim.experiments.runner.run_chunk` executes; seeds and chunking are
fixed before, so every backend gives identical results. The ``processes`` backend uses the *spawn*
start method, which works in Jupyter and on every OS; the Dask backend connects to an existing
scheduler (``address``) or starts a ``LocalCluster`` for the run. Workers write their chunks to the
run directory themselves, so on a cluster it must be on a shared filesystem.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator

from sim.errors import InputError
from sim.experiments.runner import ChunkStatus, ChunkTask, run_chunk

BACKENDS = ("serial", "processes", "dask")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def check_backend(backend: str, workers: int | None) -> None:
    """Refuse a backend or worker count that cannot run, before any run directory is touched."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend '{backend}' (choose one of {', '.join(BACKENDS)})")
    if workers is not None and int(workers) < 1:
        raise InputError(f"--workers must be at least 1 (got {workers})")


def execute(tasks: Iterable[ChunkTask], backend: str = "processes", workers: int | None = None,
            address: str | None = None, func: Callable = run_chunk) -> Iterator[ChunkStatus]:
    """Run ``func`` on every task (default: :func:`run_chunk`), yielding each result as it
    finishes (in completion order). ``func`` must be importable by name (module level) so spawned
    processes and Dask workers can unpickle it."""
    tasks = list(tasks)
    if backend not in BACKENDS:
        raise InputError(f"unknown backend '{backend}' (choose one of {', '.join(BACKENDS)})")
    workers = workers or default_workers()
    if backend == "serial" or (backend == "processes" and (workers == 1 or len(tasks) <= 1)):
        for task in tasks:
            yield func(task)
    elif backend == "processes":
        yield from _processes(func, tasks, workers)
    else:
        yield from _dask(func, tasks, workers, address)


#: Chunks in flight per worker: enough to keep workers busy, few enough that the driver's memory
#: does not grow with the number of chunks.
IN_FLIGHT_PER_WORKER = 3


#: Seconds between a worker's checks that the driver still lives.
PARENT_CHECK_SECONDS = 1.0


def exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: a daemon thread ends the worker when the driver dies (even by SIGKILL,
    which gives the driver no chance to stop its pool), so orphans never keep computing and
    writing chunks. Portable: it watches the parent process id rather than a Linux-only signal."""
    import os
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="seisim-parent-watch", daemon=True).start()


def _processes(func: Callable, tasks: list, workers: int) -> Iterator:
    import multiprocessing
    import os
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    queue = iter(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        pending = {pool.submit(func, t)
                   for t in itertools.islice(queue, workers * IN_FLIGHT_PER_WORKER)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    for t in itertools.islice(queue, 1):
                        pending.add(pool.submit(func, t))
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _dask(func: Callable, tasks: list, workers: int, address: str | None) -> Iterator:
    import logging

    from sim.compat import optional_import

    distributed = optional_import("distributed", "cluster", "--backend dask")
    Client, LocalCluster, as_completed = (distributed.Client, distributed.LocalCluster,
                                          distributed.as_completed)

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if address:
        try:
            client, cluster = Client(address, timeout="20s"), None
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {address}: "
                             + " ".join(str(exc).split())) from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        queue = iter(tasks)
        running = as_completed([client.submit(func, t, pure=False)
                                for t in itertools.islice(queue, n_workers * IN_FLIGHT_PER_WORKER)])
        for future in running:
            yield future.result()
            future.release()
            for t in itertools.islice(queue, 1):
                running.add(client.submit(func, t, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
