"""The five layers, one package each: input, router, memory, reasoning, execution.

Each package's `node.py` exports its node factory (`make_<layer>_node(...)`) returning a plain
function that takes the graph state (and LangGraph's runtime) and returns a partial state update;
what the layer owns lives beside it. `escalation.py` has the fallback chains reasoning and
execution share. The contracts the layers share are in :mod:`lamina.core`; the small-model guards
they apply in :mod:`lamina.guards`; the graph that wires them in :mod:`lamina.graph`.
"""
