"""The live pipeline's adapters: Kafka batches in, Redis state, Prometheus metrics, HTTP."""

from streams.native import activate

activate(__name__, __path__)  # the batch planner's mypyc build, as for streams.domain
