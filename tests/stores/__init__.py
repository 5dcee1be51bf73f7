"""What every store implementation must do: ``contract.py``, run against each store."""
