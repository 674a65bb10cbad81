"""The execution layer: runs one plan step as a tool loop (call tools, check them, loop until done).

`node.py` has the node factory (:func:`make_execution_node`) and `limits.py` its bounds;
`step_run.py` the tool loop of one step, which reads what the step works from in
`step_inputs.py`, makes its first move in `opening.py`, runs a reply's calls in `reply_calls.py`
(kept in a `call_log.py` `CallLog`) and hands its result on in `step_report.py`;
`grounded_moves.py` narrows each move's tools to what was given; `calls.py` checks a call and
phrases a failed one for the model (one template); `approval.py` pauses for a human on tools
that need approval; `durable.py` makes model replies and tool batches LangGraph tasks
(checkpointed, never run twice on resume); `runner.py` runs tool calls in threads with timeouts
and the tool-call ledger; `hung.py` counts calls still running past their timeout and refuses a
tool with too many of them. The records it writes
(:class:`~lamina.core.records.ToolCallRecord`, :class:`~lamina.core.records.ApprovalRequest`)
are in :mod:`lamina.core.records`; the small-model guards it applies are in :mod:`lamina.guards`.
"""

from lamina.core.records import APPROVAL_REQUEST, ApprovalRequest, ToolCallRecord
from lamina.layers.execution.approval import requires_approval
from lamina.layers.execution.calls import FAILURE_TEMPLATE
from lamina.layers.execution.node import make_execution_node

__all__ = [
    "APPROVAL_REQUEST",
    "FAILURE_TEMPLATE",
    "ApprovalRequest",
    "ToolCallRecord",
    "make_execution_node",
    "requires_approval",
]
