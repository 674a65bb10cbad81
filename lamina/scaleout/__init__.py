"""The same graph beyond one machine: remote model servers, a Chroma server, Postgres checkpoints.

- :mod:`lamina.scaleout.backends`: checkpointers and memory stores chosen by a URL in config.
- :mod:`lamina.scaleout.servers`: start/stop the parts on this host (tests, benchmarks, examples).

Remote models are `ModelSpec(endpoint=...)` (:mod:`lamina.models.remote`).
"""
