"""Make sure the worker's topics exist with one partition count (co-partitioning)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.errors import ConfigError


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    options: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Create missing topics with ``partitions``; fail if existing ones disagree.

    ``options`` go to the admin client (``KafkaAuth.aiokafka_options``: SASL, TLS).

    Every event of a ticket must land on the same partition number in every topic, so the
    input topics must all have the same partition count.
    """
    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(options or {}))
    await admin.start()
    try:
        existing = await _partition_counts(admin, wanted)
        missing = [name for name in wanted if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=1)
                    for name in missing
                ]
            )
            existing = await _partition_counts(admin, wanted)
    finally:
        await admin.close()
    counts = {name: existing.get(name, 0) for name in wanted}
    if len(set(counts.values())) != 1:
        listing = ", ".join(f"{name}={count}" for name, count in counts.items())
        raise ConfigError(
            "kafka",
            "partitions",
            f"topics must have the same partition count to keep a ticket on one partition: "
            f"{listing}; recreate them or add partitions so that they agree",
        )
    return counts


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    metadata = await admin.describe_topics(names)
    return {
        str(topic["topic"]): len(topic["partitions"])
        for topic in metadata
        if not topic.get("error_code") and topic["partitions"]
    }
