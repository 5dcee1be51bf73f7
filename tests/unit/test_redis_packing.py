"""hiredis packs a command into exactly the bytes redis-py's own packer makes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, UnixDomainSocketConnection
from redis.exceptions import DataError
from redis.typing import EncodableT

from streams.live.redis_packing import _HiredisPacking, with_hiredis_packing

ARGUMENT = st.one_of(
    st.text(),
    st.binary(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


def packers(url: str = "redis://127.0.0.1:1/0") -> tuple[AbstractConnection, AbstractConnection]:
    plain = Redis.from_url(url).connection_pool
    packing = with_hiredis_packing(Redis.from_url(url)).connection_pool
    return (
        plain.connection_class(**plain.connection_kwargs),
        packing.connection_class(**packing.connection_kwargs),
    )


@given(
    st.sampled_from(["SET", "MSET", "ZADD", b"EVAL", "CONFIG GET", b"CLIENT SETNAME"]),
    st.lists(ARGUMENT, max_size=12),
)
def test_the_same_bytes_as_redis_py(name: str | bytes, arguments: list[EncodableT]) -> None:
    plain, packing = packers()
    assert b"".join(packing.pack_command(name, *arguments)) == b"".join(
        plain.pack_command(name, *arguments)
    )
    commands = [(name, *arguments), ("EXEC",)]
    assert b"".join(packing.pack_commands(commands)) == b"".join(plain.pack_commands(commands))


def test_a_large_value_is_packed_whole() -> None:
    plain, packing = packers()
    value = bytes(range(256)) * 100  # past redis-py's 6,000-byte chunking
    assert b"".join(packing.pack_command("SET", "k", value)) == b"".join(
        plain.pack_command("SET", "k", value)
    )


def test_what_hiredis_refuses_goes_to_redis_py() -> None:
    plain, packing = packers()
    view = memoryview(b"abc")
    assert b"".join(packing.pack_command("SET", "k", view)) == b"".join(
        plain.pack_command("SET", "k", view)
    )
    with pytest.raises(DataError):
        packing.pack_command("SET", "k", True)


def test_every_connection_kind_keeps_its_class() -> None:
    _, packing = packers("unix:///tmp/nothing.sock")
    assert isinstance(packing, UnixDomainSocketConnection)
    assert isinstance(packing, _HiredisPacking)
    client = with_hiredis_packing(Redis.from_url("redis://127.0.0.1:1/0"))
    first = client.connection_pool.connection_class
    assert with_hiredis_packing(client).connection_pool.connection_class is first
