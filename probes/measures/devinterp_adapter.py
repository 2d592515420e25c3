"""The one place that reaches into devinterp 2.0.1 beyond its public API.

`devinterp.slt.sampler` draws one tqdm bar per chain through its module-level `trange`, and `sample()` has no
option to turn them off; inside a sweep (which has its own bar) they flood a log. `quiet_chains` swaps that name
for a disabled bar while sampling and puts it back. `tests/test_llc.py` checks that the name is still there, so a
devinterp release that renames it fails that test instead of silently printing bars.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_chains() -> Iterator[None]:
    """devinterp's per-chain progress bars off for the duration."""
    from devinterp.slt import sampler

    original = sampler.trange
    sampler.trange = functools.partial(original, disable=True)
    try:
        yield
    finally:
        sampler.trange = original
