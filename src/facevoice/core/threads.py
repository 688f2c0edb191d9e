"""One way to cap CPU threads for a block: torch's intra-op pool and the BLAS / OpenMP pools of numpy
and scipy (threadpoolctl, a scikit-learn dependency).

Why cap at all: the heads and the small dense algebra of this project run many times slower when a
multi-threaded BLAS spins in barriers on a shared CPU, and a multi-threaded GEMM may sum in another
order, which changes the last bits of results that must be bit-identical (simulated data hashes).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def limit_threads(n: int | None, *, blas_only: bool = False, torch_threads: bool = True) -> Iterator[None]:
    """Run the block with at most ``n`` threads (``None``: leave every pool as it is), then restore them.

    ``blas_only``: cap only the BLAS pools (leave OpenMP alone); ``torch_threads``: also set torch's
    intra-op thread count (only if torch is already imported, so numpy-only callers never import it).
    """
    if not n:
        yield
        return
    torch = sys.modules.get("torch") if torch_threads else None
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(int(n))
    try:
        with threadpool_limits(limits=int(n), user_api="blas" if blas_only else None):
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)
