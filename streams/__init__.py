"""ticketpulse: real-time SLA and KPI monitor for customer support."""

__version__ = "0.1.0"
