"""The five layers, one module each: input, router, memory, reasoning, execution.

Each module exports a node factory (`make_<layer>_node(...)`) returning a plain function that
takes the graph state (and LangGraph's runtime) and returns a partial state update.
"""
