"""Make sure the worker's topics exist with one partition count (co-partitioning).

Topics are created before anything asks for their metadata: a metadata request for a missing
topic makes a broker with ``auto.create.topics.enable`` create it with its own default
partition count, which would silently win over the worker's setting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.protocol.metadata import MetadataRequest

from streams.errors import ConfigError

METADATA_WAIT_SECONDS = 15.0  # how long a created topic may take to show in the metadata


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    options: Mapping[str, Any] | None = None,
    *,
    copartitioned: Iterable[str] | None = None,
    replication: int = 1,
) -> dict[str, int]:
    """Create missing topics with ``partitions``; fail if existing ones disagree.

    ``options`` go to the admin client (``KafkaAuth.aiokafka_options``: SASL, TLS); topics
    are created with ``replication`` replicas (their ``min.insync.replicas`` is the broker's).
    ``copartitioned`` (default: all of ``names``) must have exactly ``partitions``
    partitions: every event of a ticket must land on the same partition number in every
    input topic, and the worker finds a ticket's partition from that count. Returns each
    topic's real partition count.
    """
    wanted = list(dict.fromkeys(names))
    checked = wanted if copartitioned is None else list(dict.fromkeys(copartitioned))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(options or {}))
    await admin.start()
    try:
        refused = await _create(admin, wanted, partitions, replication)
        existing = await _partition_counts(admin, wanted)
        # A topic just created may take a moment to appear in the broker's metadata (its
        # partitions' leaders are elected asynchronously): ask again for a while.
        deadline = asyncio.get_running_loop().time() + METADATA_WAIT_SECONDS
        while any(n not in existing and n not in refused for n in wanted):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
            existing = await _partition_counts(admin, wanted)
    finally:
        await admin.close()
    missing = [name for name in wanted if name not in existing]
    if missing:
        reasons = "; ".join(f"{name}: {refused.get(name, 'not found')}" for name in missing)
        raise ConfigError("kafka", "topics", f"cannot create {reasons}")
    counts = {name: existing[name] for name in wanted}
    wrong = {name: counts[name] for name in checked if counts[name] != partitions}
    if wrong:
        listing = ", ".join(f"{name} has {count}" for name, count in wrong.items())
        raise ConfigError(
            "kafka",
            "partitions",
            f"configured {partitions} partitions (TICKETPULSE_PARTITIONS / --partitions), "
            f"but {listing}: the input topics must all have the configured count to keep a "
            "ticket on one partition; set the setting to the topics' count, or recreate them",
        )
    return counts


async def _create(
    admin: AIOKafkaAdminClient, names: list[str], partitions: int, replication: int
) -> dict[str, str]:
    """Create the topics; the reasons the broker gave for those it refused (other than
    "already exists", which the partition count check then examines)."""
    response = await admin.create_topics(
        [
            NewTopic(name, num_partitions=partitions, replication_factor=replication)
            for name in names
        ]
    )
    refused = {}
    for row in response.topic_errors:
        topic, code = str(row[0]), int(row[1])
        if code not in (0, TopicAlreadyExistsError.errno):
            message = row[2] if len(row) > 2 and row[2] else ""
            refused[topic] = f"{for_code(code).__name__} {message}".strip()
    return refused


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """The topics' partition counts, asked so that the broker creates none that is missing
    (``describe_topics`` lets it)."""
    request = MetadataRequest(names, allow_auto_topic_creation=False)
    metadata = (await admin._send_request(request)).to_object()["topics"]
    return {
        str(topic["topic"]): len(topic["partitions"])
        for topic in metadata
        if not topic.get("error_code") and topic["partitions"]
    }
