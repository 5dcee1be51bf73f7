"""Pipeline benchmark (issue 5): see docs/bench.md."""
