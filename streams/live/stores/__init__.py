"""Where the live pipeline keeps its state: the protocol, and the in-memory store.

The Redis store is ``streams.live.store.RedisStore``; both implement ``Store``.
"""
