"""``python -m streams`` is the ``ticketpulse`` command."""

from streams.cli import main

main()
