"""The old import paths of the layers and the graph keep working for one release, with a warning."""

from __future__ import annotations

import importlib
import sys

import pytest

# old path -> (new module, a public name both give)
VACATED = {
    "lamina.graphs.state": ("lamina.core.state", "AgentState"),
    "lamina.graphs.context": ("lamina.core.context", "AgentContext"),
    "lamina.graphs.nodes": ("lamina.core.nodes", "LayerNode"),
    "lamina.graphs.agent_graph": ("lamina.graph", "build_agent_graph"),
    "lamina.graphs.editing": ("lamina.graph", "insert_after"),
    "lamina.layers.context_text": ("lamina.core.text", "render_memories"),
    "lamina.layers.planning": ("lamina.layers.reasoning.planning", "make_plan"),
    "lamina.layers.verification": ("lamina.layers.reasoning.verification", "verify"),
    "lamina.layers.router_fit": ("lamina.layers.router.fit", "RouterReport"),
    "lamina.layers.router_llm": ("lamina.layers.router.llm_fallback", "LLMFallback"),
    "lamina.layers.routing_defaults": ("lamina.layers.router.defaults", "default_routes"),
    "lamina.layers.tool_relevance": ("lamina.guards.tool_relevance", "ToolRelevance"),
    "lamina.layers.router_cli": ("lamina.cli.route", "app"),
    "lamina.tools.memory_tools": ("lamina.layers.memory.tools", "make_memory_tools"),
}

# old module paths that are now packages: the package is the new home, so no warning
PACKAGES = {
    "lamina.layers.router": ("Route", "IntentRouter", "RouteDecision", "make_router_node"),
    "lamina.layers.execution": ("ApprovalRequest", "ToolCallRecord", "make_execution_node"),
    "lamina.layers.reasoning": ("make_reasoning_node", "rc_solve", "RC_ITERATIONS"),
    "lamina.layers.memory": ("make_memory_node", "make_memory_writeback_node", "is_noise"),
    "lamina.layers.input": ("make_input_node", "to_messages", "normalise_task"),
}


@pytest.mark.parametrize("old", sorted(VACATED))
def test_a_vacated_path_warns_and_gives_the_same_object(old: str) -> None:
    new, name = VACATED[old]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.")):
        shim = importlib.import_module(old)
    assert getattr(shim, name) is getattr(importlib.import_module(new), name)


def test_the_old_graphs_package_warns() -> None:
    sys.modules.pop("lamina.graphs", None)
    with pytest.warns(DeprecationWarning, match=r"lamina\.graphs"):
        importlib.import_module("lamina.graphs")


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_layer_package_keeps_its_old_names(package: str) -> None:
    module = importlib.import_module(package)
    for name in PACKAGES[package]:
        assert hasattr(module, name), name


def test_durable_steps_are_plain_calls_outside_a_graph_run() -> None:
    from lamina.layers.execution.durable import durable, in_graph_run

    assert not in_graph_run()
    assert durable("t", lambda x: x + 1, 1) == 2
