"""Persistent state: what lamina keeps between runs and processes.

`ledger.py` is the tool-call ledger (finished tool calls keyed by deterministic call ids, so a
resumed run never repeats one); `memory/` is long-term memory over Chroma (`MemoryStore`,
per-user memories, semantic search, near-duplicate merging; see its docstring for where each
job lives); `step_cache/` is the reasoning layer's persistent step cache (`StepCache`, an exact
key to a model call's result in SQLite, with opt-in semantic reuse); `checkpoints.py` opens
LangGraph's SQLite checkpointer and reports a damaged file as a `CheckpointError` that names it
and the fix (never moving or rewriting it). The sentence-transformers encoder they share is
:mod:`lamina.models.encoder`.
"""
