"""The live pipeline's adapters: Kafka batches in, Redis state, Prometheus metrics, HTTP."""
