"""Offsets aiokafka's fetcher steps over (transaction markers, aborted records) are told
apart from offsets lost: the notes come from aiokafka's own ``PartitionRecords``, fed real
record batches built with aiokafka's builder."""

from __future__ import annotations

from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

from streams.live import fetch_skips
from streams.live.fetch_skips import SkippedOffsets

TP = TopicPartition("t", 0)
PRODUCER = 7


def batch(base: int, count: int, *, transactional: bool = False, control: bool = False) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=int(transactional),
        producer_id=PRODUCER if transactional else -1,
        producer_epoch=0 if transactional else -1,
        base_sequence=0 if transactional else -1,
        batch_size=1 << 20,
    )
    for n in range(count):
        if control:  # version 0, type 1: a commit marker
            key, value = b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00"
        else:
            key, value = f"k{n}".encode(), f"v{base + n}".encode()
        builder.append(n, timestamp=0, key=key, value=value, headers=[])
    data = bytearray(builder.build())
    data[0:8] = base.to_bytes(8, "big")  # the base offset Kafka assigns
    if control:
        data[22] |= 0x20  # attributes (low byte): the control flag
        data[17:21] = calc_crc32c(bytes(data[21:])).to_bytes(4, "big")
    return bytes(data)


def fetched(
    skips: SkippedOffsets,
    data: bytes,
    fetch_offset: int,
    aborted: list[tuple[int, int]] | None = None,
) -> list[int]:
    fetch_skips.install()
    fetch_skips._NotingRecords.skips = skips
    records = fetcher.PartitionRecords(
        TP, MemoryRecords(data), aborted, fetch_offset, None, None, False, fetcher.READ_COMMITTED
    )
    return [record.offset for record in records]


def test_commit_markers_are_stepped_over_and_explain_the_gaps() -> None:
    skips = SkippedOffsets()
    # offsets 0-2 a transaction, 3 its commit marker, 4-5 plain records, 6 another marker
    data = batch(0, 3, transactional=True) + batch(3, 1, transactional=True, control=True)
    data += batch(4, 2) + batch(6, 1, transactional=True, control=True)
    assert fetched(skips, data, 0) == [0, 1, 2, 4, 5]
    assert skips.passed("t", 0, 5) == 6  # the marker after the last record is no lag
    # what decode_batch reports for 2 -> 4: explained; one offset deleted by retention is not
    assert skips.unexplained(0, [("t", 3, 1)]) == []
    assert skips.unexplained(0, [("t", 8, 3)]) == [("t", 8, 3)]


def test_aborted_records_are_stepped_over_with_their_marker() -> None:
    skips = SkippedOffsets()
    data = batch(10, 4, transactional=True) + batch(14, 1, transactional=True, control=True)
    data += batch(15, 1)
    assert fetched(skips, data, 10, aborted=[(PRODUCER, 10)]) == [15]
    assert skips.unexplained(0, [("t", 10, 5)]) == []


def test_a_gap_partly_explained_keeps_the_rest() -> None:
    skips = SkippedOffsets()
    skips.note("t", 0, 5, 6)
    skips.note("t", 0, 9, 11)
    assert skips.unexplained(0, [("t", 3, 10)]) == [("t", 3, 2), ("t", 6, 3), ("t", 11, 2)]
    assert skips.unexplained(0, [("t", 5, 1)]) == [("t", 5, 1)]  # used runs are forgotten
    assert skips.unexplained(1, [("t", 9, 2)]) == [("t", 9, 2)]  # another partition's
