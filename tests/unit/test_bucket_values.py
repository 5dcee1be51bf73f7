"""``bucket_values``: a batch's increments to a cached bucket, as the fields' new values."""

from __future__ import annotations

from streams.live.writes import BucketValues, bucket_field, bucket_values

TEAM, CHAT = ("team", "billing"), ("channel", "chat")


def test_new_fields_of_a_bucket_not_held_are_the_increments() -> None:
    assert bucket_values(None, {TEAM: {"tickets_created": 2, "reply:n": 1}}) == BucketValues(
        {bucket_field("team", "billing", "tickets_created"): 2, "team\x1fbilling\x1freply:n": 1}
    )


def test_changed_fields_add_to_what_is_held_and_fields_at_zero_are_removed() -> None:
    held = {TEAM: {"tickets_created": 5, "reply:n": 1}, CHAT: {"tickets_created": 1}}
    change = bucket_values(held, {TEAM: {"tickets_created": -2, "reply:n": -1}, CHAT: {"x": 4}})
    assert change == BucketValues(
        values={
            bucket_field("team", "billing", "tickets_created"): 3,
            bucket_field("channel", "chat", "x"): 4,
        },
        removed=[bucket_field("team", "billing", "reply:n")],
        empty=False,
    )


def test_a_bucket_is_empty_only_when_its_last_field_reaches_zero() -> None:
    held = {TEAM: {"tickets_created": 1}, CHAT: {"tickets_created": 1}}
    one_left = bucket_values(held, {TEAM: {"tickets_created": -1}})
    assert not one_left.empty and one_left.removed == ["team\x1fbilling\x1ftickets_created"]
    none_left = bucket_values(held, {TEAM: {"tickets_created": -1}, CHAT: {"tickets_created": -1}})
    assert none_left.empty and not none_left.values and len(none_left.removed) == 2
    # a field that appears while another goes: still one left
    swapped = bucket_values({TEAM: {"a": 1}}, {TEAM: {"a": -1, "b": 2}})
    assert not swapped.empty and swapped.values == {"team\x1fbilling\x1fb": 2}
