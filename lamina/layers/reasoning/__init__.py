"""The reasoning layer: plan the task, reason on each step with the Reasoning Cache loop, answer.

`node.py` has the node (:func:`make_reasoning_node`); `rc_loop.py` the Reasoning Cache loop
(:func:`rc_solve`); `planning.py` makes the plan (:func:`make_plan`), `plan.py` holds its types,
`task_split.py` the deterministic split of a task and `prompts.py` the prompt templates;
`checks.py` and `verification.py` check a step's result and refine it once when a check fails.
"""

from lamina.layers.reasoning.checks import StepCheck, check_step
from lamina.layers.reasoning.node import make_reasoning_node
from lamina.layers.reasoning.rc_loop import RC_ITERATIONS, RCResult, rc_solve

__all__ = [
    "RC_ITERATIONS",
    "RCResult",
    "StepCheck",
    "check_step",
    "make_reasoning_node",
    "rc_solve",
]
