"""The router layer: recognise the intent of a request and pick the model for it; explain why.

`node.py` has the node (:func:`make_router_node`); `intent_router.py` the :class:`IntentRouter`
(and `load_router`), which embeds route utterances with `utterance_index.py` (the encoder and the
on-disk embedding cache) and decides in the steps of `decision_steps.py` (similarity, threshold,
LLM fallback, session affinity); `validation.py` checks its arguments; `types.py` holds its value
types (:class:`Route`, :class:`RouteDecision`, :class:`TextEncoder`); `fit.py` fits thresholds
and evaluates a router; `router_file.py` saves and reads it as JSON; `llm_fallback.py` is the
grammar-constrained LLM that decides near a threshold; `defaults.py` the default routes. The
`lamina route` CLI is :mod:`lamina.cli.route`.
"""

from lamina.layers.router.intent_router import IntentRouter
from lamina.layers.router.node import make_router_node
from lamina.layers.router.types import Aggregate, Route, RouteDecision, TextEncoder

__all__ = [
    "Aggregate",
    "IntentRouter",
    "Route",
    "RouteDecision",
    "TextEncoder",
    "make_router_node",
]
