"""The ``ticketpulse`` command: wires subcommands; each lives in its own module."""

from __future__ import annotations

import click

from streams import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ticketpulse")
def main() -> None:
    """ticketpulse: real-time SLA and KPI monitor for customer support."""


def _register() -> None:
    from streams.deadletter import deadletter
    from streams.grafana.commands import grafana
    from streams.live.commands import worker
    from streams.policy_commands import policies
    from streams.replay import replay
    from streams.simulator.simulate import simulate
    from streams.stack.commands import stack
    from streams.top import top

    main.add_command(stack)
    main.add_command(replay)
    main.add_command(simulate)
    main.add_command(worker)
    main.add_command(top)
    main.add_command(grafana)
    main.add_command(policies)
    main.add_command(deadletter)


_register()
