"""Contracts every layer shares, and nothing that runs a layer.

`state.py` has the graph state (:class:`AgentState`, its input and output schemas, the trace);
`context.py` the runtime context (:class:`AgentContext`) and the protocols of what it carries
(router, memory store, step cache, ledger, tool relevance); `nodes.py` the node protocol;
`records.py` the value types several layers and the agent facade share (tool-call records,
approval requests); `text.py` the text blocks layers put into prompts; `serialise.py` JSON-safe
values and truncation.
"""
