"""The ticket record codec lives in the domain (replay keeps closed tickets in it too)."""

from streams.domain.records import decode_record, encode_record

__all__ = ["decode_record", "encode_record"]
