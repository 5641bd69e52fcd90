"""Executors: who runs the jobs of a benchmark grid.

The :class:`~sciptm.benchmarks.runner.Runner` turns a grid (tasks x models x seeds) into jobs, one per result
file that is still missing, and hands them to an executor together with the function to run on each
(:func:`~sciptm.benchmarks.runner.run_job`). The executor returns ``(job, outcome)`` pairs as jobs finish; the
runner writes each row to its result file and gathers ``results.json`` as always. So every executor gives
the same result files, the same resume behaviour (finished files are never re-run) and the same
``results.json``; only where and in which order the jobs run differs.

- :class:`SerialExecutor`: one job after the other in this process (the default).
- :class:`RayExecutor`: in parallel on Ray: an existing cluster (``address="auto"`` or ``"ray://host:10001"``)
  or a local instance started for the run (``ray.init(num_cpus=...)``; ``pip install 'sciptm[ray]'``). Each
  task's data is put once in Ray's object store and shared by its jobs; workers need sciptm installed and,
  for encoder folders given by path, the same files (result files are written by this process).

>>> from sciptm.benchmarks import run
>>> from sciptm.benchmarks.executors import RayExecutor
>>> run("chem", tasks=["esol"], models=["mean", "ecfp-rf"], out="results/ray",
...     executor=RayExecutor(num_cpus=4))  # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from sciptm.registry import Registry

J = TypeVar("J")
D = TypeVar("D")

#: ``fn(job, data) -> outcome``: ``{"row": ...}`` or ``{"error": "..."}``
JobFn = Callable[[Any, Any], dict[str, Any]]


class Executor(Protocol):
    """Runs ``fn(job, data)`` for every pair of ``jobs`` and yields ``(job, outcome)`` as each finishes."""

    name: str

    def map(self, fn: JobFn, jobs: Iterable[tuple[J, D]]) -> Iterator[tuple[J, dict[str, Any]]]: ...


class SerialExecutor:
    """One job after the other, in this process, in grid order (tasks, then seeds, then models)."""

    name = "serial"

    def map(self, fn: JobFn, jobs: Iterable[tuple[J, D]]) -> Iterator[tuple[J, dict[str, Any]]]:
        for job, data in jobs:
            yield job, fn(job, data)


class RayExecutor:
    """Jobs as Ray tasks, ``cpus_per_job`` CPUs each, results yielded in the order they finish.

    Parameters
    ----------
    address: an existing cluster (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``); ``None`` starts a
        local instance for the run (and shuts it down after) unless Ray is already initialised in this process.
    num_cpus: CPUs of the local instance (``None``: all of this machine's).
    cpus_per_job: CPUs Ray reserves per job (torch and scikit-learn in a job use that many threads).
    init_kwargs: more ``ray.init`` arguments (``object_store_memory``, ``runtime_env``...).

    A job that raises, or whose worker dies, becomes a failure of that run (listed in ``results.json``); the other
    jobs go on.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, cpus_per_job: float = 1,
                 init_kwargs: dict[str, Any] | None = None):
        if cpus_per_job <= 0:
            raise ValueError(f"cpus_per_job must be positive, not {cpus_per_job}")
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_job = cpus_per_job
        self.init_kwargs = dict(init_kwargs or {})

    def _init(self) -> bool:
        """Connect or start Ray; True when this executor started it (and so shuts it down)."""
        ray = _import_ray()
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, **self.init_kwargs}
        if self.address:
            ray.init(address=self.address, **kwargs)
        else:
            ray.init(num_cpus=self.num_cpus, **kwargs)
        return True

    def map(self, fn: JobFn, jobs: Iterable[tuple[J, D]]) -> Iterator[tuple[J, dict[str, Any]]]:
        """Submit every job (Ray is started or joined at the first one: a grid with nothing left to run never
        starts it), then yield outcomes as jobs finish."""
        ray = _import_ray()
        started = False
        try:
            remote = None
            shared: dict[int, tuple[Any, Any]] = {}  # id(data) -> (data, object ref): one put per task data
            pending: dict[Any, J] = {}
            for job, data in jobs:
                if remote is None:
                    started = self._init()
                    remote = ray.remote(num_cpus=self.cpus_per_job, max_retries=0)(fn)
                if id(data) not in shared:
                    shared[id(data)] = (data, ray.put(data))
                pending[remote.remote(job, shared[id(data)][1])] = job
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    job = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 (a worker died, or the task could not run)
                        outcome = {"error": f"{type(exc).__name__}: {exc}"}
                    yield job, outcome
        finally:
            if started:
                ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("the Ray executor needs ray: pip install 'sciptm[ray]'") from exc
    return ray


#: executor name -> factory ``(**options) -> Executor`` (the CLI's ``--executor`` choices)
EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")
EXECUTORS.add("serial", lambda **_: SerialExecutor())
EXECUTORS.add("ray", lambda address=None, num_cpus=None, **kw: RayExecutor(address=address, num_cpus=num_cpus, **kw))


def make_executor(name: str = "serial", **options: Any) -> Executor:
    """An executor by name: ``make_executor("ray", address="auto")``, ``make_executor("ray", num_cpus=4)``."""
    return EXECUTORS.get(name)(**options)


__all__ = ["EXECUTORS", "Executor", "RayExecutor", "SerialExecutor", "make_executor"]
