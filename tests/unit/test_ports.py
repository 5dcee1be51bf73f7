"""Free ports for test stacks: never in the ephemeral range, where a client that retries a
dead server can be given the server's port as its own and hold it."""

from __future__ import annotations

import socket

from streams.stack.ports import DEMO_PORTS, LOWEST_FREE, ephemeral_low, free_ports


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20
    low = ephemeral_low()
    assert all(LOWEST_FREE <= port < low for port in ports), (ports, low)
    assert not set(ports) & set(vars(DEMO_PORTS).values())
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_not_handed_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", free_ports(1)[0]))
        taken = busy.getsockname()[1]
        assert all(taken not in free_ports(50) for _ in range(20))
