"""What the tests and the benchmark share to run real ``ticketpulse worker`` processes.

It lives under ``tests/`` (not ``streams/``) so it never ships in the product; the bench,
run as ``python -m bench.pipeline`` from the repository root, imports it as ``tests.support``.
"""
