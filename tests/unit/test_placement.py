"""The key check's hash is Kafka's default partitioner's, byte for byte."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.live.placement import Placement, murmur2, partition_of


@given(st.binary(max_size=64))
def test_murmur2_is_aiokafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_a_ticket_lands_where_kafkas_default_partitioner_puts_it(
    ticket_id: str, partitions: int
) -> None:
    key = ticket_id.encode()
    home = DefaultPartitioner()(key, list(range(partitions)), list(range(partitions)))
    assert partition_of(key, partitions) == home
    placement = Placement(partitions)
    assert placement.defect(key, home, ticket_id) is None
    elsewhere = placement.defect(key, (home + 1) % partitions, ticket_id)
    assert (elsewhere is None) is (partitions == 1)
    assert elsewhere is None or elsewhere.startswith("(partition): on partition")
