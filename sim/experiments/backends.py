"""Where chunks run: this process, a local process pool, or a Dask cluster.

Backends only decide where :func:`sim.experiments.runner.run_chunk` executes; seeds and chunking are
fixed before, so every backend gives identical results. The ``processes`` backend uses the *spawn*
start method, which works in Jupyter and on every OS; the Dask backend connects to an existing
scheduler (``address``) or runs on a ``LocalCluster`` of its own. Both kinds of local workers are
started once and kept for the session (see ``_POOLS``). Workers write their chunks to the run
directory themselves, so on a cluster it must be on a shared filesystem.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
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
    if backend == "serial" or (backend == "processes" and not _uses_pool(workers, len(tasks))):
        for task in tasks:
            yield func(task)
    elif backend == "processes":
        yield from _processes(func, tasks, workers)
    else:
        yield from _dask(func, tasks, workers, address)


def _uses_pool(workers: int, n_tasks: int) -> bool:
    """Whether the processes backend runs ``n_tasks`` on the pool (else in this process)."""
    return workers > 1 and n_tasks > 1


def start_workers(backend: str, workers: int | None, n_tasks: int,
                  address: str | None = None) -> None:
    """Start the local workers ahead of the first chunk, so that starting the processes and
    their imports overlap what the driver does first (its own warm-up replication). The workers
    do not touch the kernel here: they load it from the cache the driver's warm-up writes, rather
    than compiling it side by side on a fresh install. The Dask backend runs even a single chunk
    on its cluster, so its local cluster starts whatever the number of chunks; a scheduler of the
    user's (``address``) is already running and is left as it is."""
    workers = workers or default_workers()
    if backend == "processes" and _uses_pool(workers, n_tasks):
        pool = worker_pool(workers)
        for _ in range(workers):
            pool.submit(import_chunk_modules)
    elif backend == "dask" and not address and not _local_cluster_kept(workers):
        # In the background: importing ``distributed`` and starting the cluster (1-2 s) overlap
        # the driver's warm-up; the run's first call of ``local_cluster`` waits for it.
        thread = threading.Thread(target=_start_local_cluster, args=(workers,), daemon=True,
                                  name="seisim-dask-start")
        _STARTING.append(thread)
        thread.start()


#: Threads starting the local Dask cluster ahead of a run (see ``start_workers``).
_STARTING: list[threading.Thread] = []


def _start_local_cluster(workers: int) -> None:
    """Start the session's local cluster and have every worker import what a chunk needs."""
    try:
        client = local_cluster(workers)
        # tasks rather than ``client.run``, which blocks until every worker has returned
        _distributed().fire_and_forget(
            [client.submit(import_chunk_modules, pure=False, workers=[worker])
             for worker in client.scheduler_info()["workers"]])
    except Exception:  # noqa: BLE001 - the run's own ``local_cluster`` call retries and reports
        pass


def _wait_for_start() -> None:
    """Wait for a cluster being started in the background (other than by this thread)."""
    for thread in list(_STARTING):
        if thread is not threading.current_thread():
            thread.join()
            if thread in _STARTING:
                _STARTING.remove(thread)


def import_chunk_modules() -> None:
    """What a worker imports to run its first chunk (the kernel module, pandas, Parquet)."""
    import pyarrow.parquet  # noqa: F401 - chunk files are written as Parquet

    import sim.experiments.runner  # noqa: F401


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


#: The local workers kept between experiments of one session, a process pool or a Dask
#: ``LocalCluster``: starting a worker costs a process start, ``import sim`` and loading the numba
#: cache (1-2 CPU seconds; a Dask cluster 1-2 seconds more), so an analysis that runs many small
#: experiments one after another (the required-lever search evaluates lever values in turn) would
#: otherwise pay it again for each one. Keyed by the backend and by what a worker inherits at start
#: and reads files by (worker count, working directory, ``SEISIM_*`` variables): when any of these
#: changes, the workers are replaced, so they always look up seeds and statistics where the driver
#: does. One set at a time, so idle workers of an earlier backend do not hold memory. Each entry is
#: the workers (pool or client) and the function that stops them.
_POOLS: dict[tuple, tuple[object, Callable[[bool], None]]] = {}


def _pool_key(backend: str, workers: int) -> tuple:
    return (backend, workers, os.getcwd(),
            tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SEISIM_"))))


def _kept(backend: str, workers: int, start: Callable[[], tuple]):
    """The session's workers for ``backend``; ``start()`` starts them (returning them and the
    function that stops them) when none are kept for the current key."""
    _wait_for_start()
    key = _pool_key(backend, workers)
    if key not in _POOLS:
        close_worker_pools()
        _POOLS[key] = start()
    return _POOLS[key][0]


def worker_pool(workers: int):
    """The session's pool of ``workers`` spawned processes (created on first use)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    def start():
        pool = ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=exit_with_parent, initargs=(os.getpid(),))
        return pool, lambda wait: pool.shutdown(wait=wait, cancel_futures=True)

    return _kept("processes", workers, start)


#: Dask settings of the kept local cluster: its scheduler, nannies and workers share the cores
#: with the chunks, so what they do besides scheduling is cut back. The workers' statistical
#: profiler (100 stack samples a second) and the system monitor feed a dashboard this cluster does
#: not serve (``dashboard_address=None``); every event loop's responsiveness check runs once a
#: second instead of 50 times; the nannies check their worker's memory once a second instead of
#: ten times. This cut an idle worker's CPU from about 4 % of a core to 0.5 %, and on 2 cores with
#: a chunk on each the Dask backend's overhead over ``processes`` at 10,000 replications from
#: +20-40 % to +4-11 % (``benchmarks/montecarlo.py``).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _local_cluster_kept(workers: int) -> bool:
    return _pool_key("dask", workers) in _POOLS


def local_cluster(workers: int):
    """A client of the session's Dask ``LocalCluster`` of ``workers`` processes with one thread
    each, as a chunk's Python work holds the GIL (created on first use, or taken over from
    ``start_workers``). The client is not made the default one, so the user's own Dask
    computations do not land on the kept cluster."""
    _wait_for_start()
    import logging

    import dask

    distributed = _distributed()

    def start():
        # The scheduler and the nannies read it as the cluster starts, and the nannies copy it
        # into their worker processes. (``dask.config.set`` is process-wide: other threads see
        # these settings for the second the start takes.)
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=None,
                                               silence_logs=logging.ERROR)
        client = distributed.Client(cluster, set_as_default=False)
        return client, lambda wait: (client.close(), cluster.close())

    return _kept("dask", workers, start)


def close_worker_pools(wait: bool = False) -> None:
    """Stop the kept workers (at exit, and after a run fails or is interrupted, so no worker keeps
    computing a cancelled run's chunks); ``wait`` until a pool's workers have exited (a Dask
    cluster always closes before this returns)."""
    _wait_for_start()
    while _POOLS:
        _, (_, stop) = _POOLS.popitem()
        stop(wait)


atexit.register(close_worker_pools)


def _processes(func: Callable, tasks: list, workers: int) -> Iterator:
    from concurrent.futures import FIRST_COMPLETED, wait

    queue = iter(tasks)
    pool = worker_pool(workers)
    pending = set()
    try:
        pending = {pool.submit(func, t)
                   for t in itertools.islice(queue, workers * IN_FLIGHT_PER_WORKER)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                for t in itertools.islice(queue, 1):
                    pending.add(pool.submit(func, t))
    except BaseException:
        for future in pending:
            future.cancel()
        close_worker_pools()
        raise


def _distributed():
    """The ``distributed`` module, quiet: its worker and scheduler logs would interleave with
    seisim's progress bar and messages; errors still show."""
    import logging

    from sim.compat import optional_import

    distributed = optional_import("distributed", "cluster", "--backend dask")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    return distributed


def _dask(func: Callable, tasks: list, workers: int, address: str | None) -> Iterator:
    """Run the tasks on the session's local cluster, or on the user's scheduler (``address``)
    through a client of the run's own, closed at its end; the user's cluster is left running."""
    distributed = _distributed()
    if address:
        try:
            client = distributed.Client(address, timeout="20s")
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {address}: "
                             + " ".join(str(exc).split())) from None
    else:
        client = local_cluster(workers)
    running = distributed.as_completed(loop=client.loop)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        queue = iter(tasks)
        running.update([client.submit(func, t, pure=False)
                        for t in itertools.islice(queue, n_workers * IN_FLIGHT_PER_WORKER)])
        for future in running:
            yield future.result()
            future.release()
            for t in itertools.islice(queue, 1):
                running.add(client.submit(func, t, pure=False))
    except BaseException:
        if client.status == "running":  # else its connection to the scheduler is already lost
            client.cancel(list(running.futures))
        if not address:
            close_worker_pools()
        raise
    finally:
        if address:
            client.close()
