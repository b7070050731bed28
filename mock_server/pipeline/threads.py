"""One BLAS thread per process: the pipeline's matrix products are small (blocks of a few
thousand frames by tens of columns), so OpenBLAS's worker threads only add hand-over and, on
a busy machine, spin-waiting: fitting a voiceprint took 0.3-1.2 s with them and 37 ms without.
Parallelism comes from the server instead (one request per thread or process).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def single_threaded_blas() -> bool:
    """Limit the BLAS libraries loaded in this process to one thread (once; process-wide).

    Returns False when threadpoolctl is missing (then BLAS keeps its default).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency of the package; still optional here
        return False
    threadpool_limits(limits=1, user_api="blas")
    return True
