"""Where chunks run: this process, a local process pool, or a Dask cluster.

Backends only decide where :func:`sim.experiments.runner.run_chunk` executes; seeds and chunking are
fixed before, so every backend gives identical results. The ``processes`` backend uses the *spawn*
start method, which works in Jupyter and on every OS; the Dask backend connects to an existing
scheduler (``address``) or runs on a ``LocalCluster`` of its own. Both kinds of local workers are
started once and kept for the session (see ``_POOLS``), and the driver is one of them: ``workers``
local workers are this process and ``workers - 1`` others (see ``_shared_with_driver``). Workers
write their chunks to the run directory themselves, so on a cluster it must be on a shared
filesystem.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import itertools
import os
import threading
import time
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
        pool = worker_pool(_started_locally(workers))
        for _ in range(_started_locally(workers)):
            pool.submit(import_chunk_modules)
    elif backend == "dask" and not address and not _local_cluster_kept(workers):
        # In the background: importing ``distributed`` and starting the cluster (1-2 s) overlap
        # the driver's warm-up; the run takes the cluster over (an error is the run's to report).
        _local_cluster_in_background(_started_locally(workers))


#: Threads starting the local Dask cluster ahead of a run (see ``start_workers``).
_STARTING: list[threading.Thread] = []


def _local_cluster_in_background(processes: int):
    """The session's local cluster of ``processes`` workers, taken (or started) on a thread of
    its own, so the driver computes chunks meanwhile instead of waiting the second or two a new
    cluster takes. Returns a future of its client and one future per worker process, finished
    once that process has imported what a chunk needs (or failed with the cluster's error)."""
    from concurrent.futures import Future

    client_ready: Future = Future()
    started = [Future() for _ in range(processes)]

    def start() -> None:
        try:
            client = local_cluster(processes)
            client_ready.set_result(client)
            for worker, future in zip(client.scheduler_info()["workers"], started):
                probe = client.submit(import_chunk_modules, pure=False, workers=[worker])
                probe.add_done_callback(lambda probe, future=future: _pass_on(probe, future))
        except BaseException as exc:  # noqa: BLE001 - raised by the run that waits for it
            for future in (client_ready, *started):
                if not future.done():
                    future.set_exception(exc)

    thread = threading.Thread(target=start, daemon=True, name="seisim-dask-start")
    _STARTING.append(thread)
    thread.start()
    return client_ready, started


def _pass_on(probe, future) -> None:
    """Finish ``future`` as the Dask future ``probe`` finished."""
    try:
        probe.result()
    except BaseException as exc:  # noqa: BLE001 - passed on, not swallowed
        future.set_exception(exc)
    else:
        future.set_result(None)


def _wait_for_start() -> None:
    """Wait for a cluster being started in the background. A starting thread waits only for
    the ones started before it (so two never wait for each other); any other thread, for all."""
    for thread in list(_STARTING):
        if thread is threading.current_thread():
            return
        thread.join()
        with contextlib.suppress(ValueError):  # another thread may have removed it
            _STARTING.remove(thread)


def import_chunk_modules() -> None:
    """What a worker imports to run its first chunk (the kernel module, pandas, Parquet)."""
    import pyarrow.parquet  # noqa: F401 - chunk files are written as Parquet

    import sim.experiments.runner  # noqa: F401


#: Chunks in flight per Dask worker: enough to keep workers busy (a task's round trip through the
#: scheduler takes milliseconds), few enough that the driver's memory does not grow with the
#: number of chunks. (A pool process of the ``processes`` backend: ``TASKS_PER_POOL_PROCESS``.)
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


def worker_pool(processes: int):
    """The session's pool of ``processes`` spawned processes (created on first use)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    def start():
        pool = ProcessPoolExecutor(max_workers=processes,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=exit_with_parent, initargs=(os.getpid(),))
        return pool, lambda wait: pool.shutdown(wait=wait, cancel_futures=True)

    return _kept("processes", processes, start)


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
    return _pool_key("dask", _started_locally(workers)) in _POOLS


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
    """Run the tasks on this process and the session's pool of ``workers - 1`` processes."""
    pool = worker_pool(_started_locally(workers))
    started = [pool.submit(import_chunk_modules) for _ in range(_started_locally(workers))]
    yield from _shared_with_driver(func, tasks, workers, lambda task: pool.submit(func, task),
                                   started)


def _started_locally(workers: int) -> int:
    """The processes a local backend starts for ``workers`` workers: the driver is one of them
    (at least one, as the Dask backend runs even a single chunk on its cluster)."""
    return max(1, workers - 1)


def _shared_with_driver(func: Callable, tasks: list, workers: int, submit: Callable,
                        started: list) -> Iterator:
    """Run the tasks on ``workers`` local workers: this process and the ones ``submit`` hands a
    task to (a process pool or the session's Dask ``LocalCluster``), whose ``started`` futures
    (one ``import_chunk_modules`` task per process) finish once each process runs.

    The driver is one of the workers because it would otherwise sit idle waiting for results,
    and because it is the one process that needs no start-up: it has imported ``sim`` and loaded
    the numba kernel (its warm-up replication). Between its own tasks it passes on the others'
    finished ones; :class:`_PoolFeeder` hands the others their share meanwhile. A failure, or
    the run's interruption, cancels what they have not started and stops them."""
    deadline = time.monotonic() + STARTED_WAIT_SECONDS
    while not all(f.done() for f in started) and time.monotonic() < deadline:
        time.sleep(0.005)  # kept workers answer at once; new ones take seconds
    feeder = _PoolFeeder(submit, tasks, started, workers)
    try:
        while (step := feeder.next_step()) is not None:
            finished, task = step
            yield finished.result() if finished is not None else func(task)
    except BaseException:
        feeder.stop()
        close_worker_pools()
        raise


#: Seconds the driver waits for a kept pool's processes to say they are running before it
#: computes a first task itself (a kept pool answers in milliseconds; a new one takes seconds).
STARTED_WAIT_SECONDS = 0.05

#: Tasks handed to each pool process at a time while many remain: the one it computes and the
#: next, so it starts the next without waiting for a result's round trip through the driver's
#: threads (which share the interpreter with the driver's own task). Near the end of a run a
#: pool process gets one task at a time: a task handed out cannot be taken back, and one waiting
#: in the pool at the end would leave the driver idle while the pool computes it.
TASKS_PER_POOL_PROCESS = 2


class _PoolFeeder:
    """The tasks of one run on local workers, shared between the driver and the others (its
    "pool": the processes backend's pool or the session's Dask ``LocalCluster``).

    A pool process gets tasks only once it has started (answered its ``import_chunk_modules``
    task), so a new pool never holds back a task the driver could compute, and a run of a few
    tasks never waits for the pool. The pool is topped up from the pool's own thread, as soon as
    one of its processes starts or finishes a task, because the driver may be busy computing a
    task of its own at that moment. The driver takes the rest: first any task the pool has
    finished (to pass on its result), then the next task to compute, then it waits for the pool.
    """

    def __init__(self, submit: Callable, tasks: list, started: list, workers: int) -> None:
        import queue

        self.submit, self.started, self.workers = submit, started, workers
        self.todo = collections.deque(tasks)
        self.in_flight: set = set()
        self.finished: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.stopped = False
        self.lock = threading.RLock()
        self.hand_out()
        for future in started:
            future.add_done_callback(self.hand_out)

    def hand_out(self, _=None) -> None:
        """Top the started pool processes up to :data:`TASKS_PER_POOL_PROCESS` tasks each, or
        one each once fewer tasks are left than there are workers (so the run's last tasks go to
        whichever worker is free first). Runs in the pool's thread too, so an error is kept for
        the driver's thread to raise."""
        with self.lock:
            try:
                started = sum(_has_started(f) for f in self.started)
                while not self.stopped and self.todo and len(self.in_flight) < started * (
                        TASKS_PER_POOL_PROCESS if len(self.todo) >= self.workers else 1):
                    future = self.submit(self.todo.popleft())
                    self.in_flight.add(future)
                    future.add_done_callback(self._finish)
            except Exception as exc:  # noqa: BLE001 - raised by ``next_step`` in the run's thread
                self.errors.append(exc)
                self.stopped = True

    def _finish(self, future) -> None:
        with self.lock:
            self.in_flight.discard(future)
            self.finished.put(future)
        self.hand_out()

    def next_step(self):
        """(a finished pool future, None) or (None, a task for the driver to compute), or None
        when every task is done; blocks while the pool computes the last ones."""
        with self.lock:
            if self.errors:
                raise self.errors[0]
            if not self.finished.empty():
                return self.finished.get(), None
            if self.todo:
                return None, self.todo.popleft()
            if not self.in_flight:
                return None
        return self.finished.get(), None

    def stop(self) -> None:
        """Hand out nothing more and cancel what the pool has not started."""
        with self.lock:
            self.stopped = True
            try:
                for future in list(self.in_flight):
                    future.cancel()
            except Exception:  # noqa: BLE001 - a Dask client whose scheduler is gone: the run's
                pass  # own error is what the caller raises next, and the workers are stopped


def _has_started(future) -> bool:
    """Whether a pool process has answered its ``import_chunk_modules`` task; a pool that could
    not start it (a broken pool) is reported here rather than left to the driver alone."""
    if not future.done():
        return False
    future.result()
    return True


def _distributed():
    """The ``distributed`` module, quiet: its worker and scheduler logs would interleave with
    seisim's progress bar and messages; errors still show."""
    import logging

    from sim.compat import optional_import

    distributed = optional_import("distributed", "cluster", "--backend dask")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    return distributed


def _dask(func: Callable, tasks: list, workers: int, address: str | None) -> Iterator:
    """Run the tasks on the user's scheduler (``address``) through a client of the run's own,
    closed at its end (the user's cluster is left running), or on the session's local cluster,
    with the driver as one of the ``workers`` as in the processes backend."""
    distributed = _distributed()
    if not address and workers > 1:
        client, started = _local_cluster_in_background(_started_locally(workers))
        yield from _shared_with_driver(
            func, tasks, workers, lambda task: client.result().submit(func, task, pure=False),
            started)
        return
    if not address:
        client = local_cluster(1)
    else:
        try:
            client = distributed.Client(address, timeout="20s")
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {address}: "
                             + " ".join(str(exc).split())) from None
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
