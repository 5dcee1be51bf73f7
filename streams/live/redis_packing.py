"""Redis commands packed by hiredis's C function instead of redis-py's Python loop.

redis-py's synchronous client packs commands with ``hiredis.pack_command`` when hiredis is
installed; its asyncio client always runs the Python packer, which encodes and frames each
argument in Python. A batch's transaction carries a few thousand arguments (the tickets'
records, the wake-up and deadline indexes), and packing them was about 6 us of the worker's
~90 us per event (bench/bench_worker_handle.py). The same bytes come out (tested); an argument
hiredis refuses (a bool, a memoryview) goes to redis-py's packer, which raises its usual error
or frames it as it always has.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.typing import EncodableT

_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {}


class _HiredisPacking(AbstractConnection):
    """Mixed in before the pool's connection class (TCP, TLS or Unix socket alike)."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        name = args[0]  # "CONFIG GET": the server wants the two words apart
        if isinstance(name, str):
            if " " in name:
                args = (*name.encode().split(), *args[1:])
        elif isinstance(name, bytes) and b" " in name:
            args = (*name.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]  # type: ignore[arg-type]  # its stub: a 1-tuple
        except TypeError:
            return super().pack_command(*args)


def with_hiredis_packing(client: Redis) -> Redis:
    """``client``, its pool's connections now packing commands with hiredis."""
    pool = client.connection_pool
    base: Any = pool.connection_class
    if not issubclass(base, _HiredisPacking):
        packing = _PACKING.get(base)
        if packing is None:
            name = f"HiredisPacking{base.__name__}"
            packing = _PACKING[base] = type(name, (_HiredisPacking, base), {})
        pool.connection_class = packing
    return client
