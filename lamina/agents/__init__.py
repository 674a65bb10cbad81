"""The agent: the facade users build and run, and what it is built from.

`agent.py` holds `Agent` (build the five-layer graph with its dependencies, run, stream,
resume); `assembly.py` turns `Agent`'s arguments into its dependencies (models, memory, step
cache, ledger, checkpointer); `resuming.py` decides how an unfinished run continues;
`result.py` holds `RunResult`, what a run did; `config_file.py` reads `lamina.toml` into
`Agent`'s arguments. The node options `Agent(**options)` takes are `lamina.config.AgentOptions`.
The `lamina run`/`lamina resume` commands are in `lamina.cli.run`.
"""
