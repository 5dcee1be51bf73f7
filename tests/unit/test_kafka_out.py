"""The worker's producers: idempotent with acks=all, ``POST /events`` transactional with an
id stable for a worker and distinct between the workers of a group."""

from __future__ import annotations

from streams.live.kafka_out import KafkaOut, transactional_id
from streams.live.settings import WorkerSettings


def test_producers_are_idempotent_and_wait_for_all_replicas() -> None:
    options = KafkaOut(WorkerSettings(produce_timeout_seconds=7))._options()
    assert (options["acks"], options["enable_idempotence"]) == ("all", True)
    assert options["request_timeout_ms"] == 7000


def test_the_transactional_id_is_stable_per_worker_and_distinct_between_workers() -> None:
    one = WorkerSettings(group_id="g", web_port=6066)
    assert transactional_id(one, "h1") == transactional_id(one, "h1") == "g.post-events.h1:6066"
    assert transactional_id(one, "h2") != transactional_id(one, "h1")
    other_port = WorkerSettings(group_id="g", web_port=6067)
    assert transactional_id(other_port, "h1") != transactional_id(one, "h1")
