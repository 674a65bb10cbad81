"""The execution layer with the real SmolLM2-135M-Instruct and grammar-constrained tool calls.

Assertions are on structure: which tools were called, with which arguments, and whether the
number a tool produced reached the next tool and the step's result.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from langchain_core.tools import BaseTool
from langgraph.runtime import Runtime

from lamina.core.context import AgentContext, StaticModels
from lamina.guards.tool_shortlist import step_needs_tool
from lamina.layers.execution import make_execution_node
from lamina.tools.calculator import calculator
from lamina.tools.decorator import tool

MODEL = "smollm2-135m-instruct"

# Numbers a model would not produce without calling the tool.
DISTANCES_KM = {"lyon": 467, "nice": 932, "lille": 225}


@tool
def get_distance(city: Annotated[str, "The name of a French city."]) -> int:
    """Get the road distance from Paris to a city, in kilometres."""
    key = city.strip().lower()
    if key not in DISTANCES_KM:
        raise ValueError(f"unknown city {city!r}; known: {', '.join(DISTANCES_KM)}")
    return DISTANCES_KM[key]


@tool
def km_to_miles(km: Annotated[float, "A distance in kilometres."]) -> str:
    """Convert a distance in kilometres to miles."""
    return f"{km * 0.621371:.1f}"


def run_step(
    chat_model: Any,
    tools: list[BaseTool],
    state: dict[str, Any],
    *,
    max_retries: int = 2,
    relevance: Any = None,
) -> dict[str, Any]:
    context = AgentContext(
        models=StaticModels({MODEL: chat_model}),
        default_model=MODEL,
        tools={t.name: t for t in tools},
        tool_relevance=relevance,
    )
    node = make_execution_node(max_tool_calls=4, max_retries=max_retries, tool_timeout=10.0)
    base: dict[str, Any] = {"messages": [], "model": MODEL, "trace": []}
    return node({**base, **state}, Runtime(context=context))  # type: ignore[arg-type]


def calls_of(update: dict[str, Any]) -> list[dict[str, Any]]:
    (event,) = update["trace"]
    assert event["layer"] == "execution"
    calls: list[dict[str, Any]] = event["data"]["tool_calls"]
    return calls


@pytest.fixture(scope="module")
def chat(pool: Any) -> Any:
    # Short replies keep the runtime down: tool arguments and answers here are a few tokens.
    return pool.chat_model(MODEL, temperature=0.0, seed=0, max_tokens=48)


def test_arithmetic_step_calls_the_calculator(chat: Any) -> None:
    update = run_step(chat, [calculator], {"task": "What is 12 times 7?"})
    calls = calls_of(update)
    succeeded = [c for c in calls if c["name"] == "calculator" and "result" in c]
    assert succeeded, f"calculator was not called successfully: {calls}"
    assert succeeded[0]["result"] == "84"
    assert "84" in update["step_results"][0]["result"]


def _converted_from_lookup(calls: list[dict[str, Any]], city: str) -> bool:
    """Did get_distance(city) run, and did km_to_miles then get exactly its output?"""
    lookups = [c for c in calls if c["name"] == "get_distance" and "result" in c]
    conversions = [c for c in calls if c["name"] == "km_to_miles" and "result" in c]
    if not lookups or not conversions:
        return False
    km = DISTANCES_KM[city]
    first_lookup = calls.index(lookups[0])
    return any(
        calls.index(c) > first_lookup and float(c["args"].get("km", -1)) == km for c in conversions
    )


def test_two_tools_over_a_two_step_plan_pass_the_value_on(chat: Any, encoder: Any) -> None:
    """The graph's way: the reasoning layer's plan gives each tool its own step; the second step
    reads the first step's result from the prompt. The tools are weighed against each step by
    meaning, as the agent does (without that, SmolLM2 called `get_distance` again for "Convert
    that distance from km to miles." on some numeric paths)."""
    from lamina.guards.tool_relevance import ToolRelevance

    relevance = ToolRelevance(encoder=encoder)
    city = "lyon"
    plan = [
        {
            "index": 0,
            "instruction": "Get the distance from Paris to Lyon in km.",
            "needs_tool": True,
        },
        {"index": 1, "instruction": "Convert that distance from km to miles.", "needs_tool": True},
    ]
    state: dict[str, Any] = {
        "task": "How many miles is it from Paris to Lyon?",
        "plan": plan,
        "step_index": 0,
        "step_results": [],
        "steps_taken": 0,
    }
    tools = [get_distance, km_to_miles]
    first = run_step(chat, tools, state, relevance=relevance)
    state.update(
        step_index=first["step_index"],
        step_results=first["step_results"],
        steps_taken=first["steps_taken"],
    )
    second = run_step(chat, tools, state, relevance=relevance)

    calls = calls_of(first) + calls_of(second)
    assert second["step_index"] == 2
    assert second["steps_taken"] == 2
    assert _converted_from_lookup(calls, city), f"tool chain not completed: {calls}"


def test_agent_chains_two_custom_tools_end_to_end(pool: Any, tmp_path: Any) -> None:
    """The whole graph: the reasoning layer splits the task, execution calls get_distance, then
    km_to_miles on exactly the number the first tool returned; the answer carries the miles."""
    from lamina import Agent
    from lamina.config import get_settings

    agent = Agent(
        models=[MODEL],
        pool=pool,
        settings=get_settings(home=tmp_path, seed=0),
        routes=[],
        tools=[get_distance, km_to_miles],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        model_settings={"max_tokens": 64},
    )
    result = agent.run("Get the distance from Paris to Nice in km, then convert it to miles.")
    calls = [
        {"name": c.name, "args": c.arguments, **({"result": c.result} if c.error is None else {})}
        for c in result.tool_calls
    ]
    assert _converted_from_lookup(calls, "nice"), f"tool chain not completed: {calls}"
    miles = f"{DISTANCES_KM['nice'] * 0.621371:.1f}"
    assert miles in result.answer, (result.answer, calls)


def test_one_reply_holds_parallel_calls(chat: Any) -> None:
    """Several calls in one reply: after the first call the model adds a second, then stops.

    SmolLM2-135M does not add a second call from the tool list alone; one earlier turn with two
    calls in the conversation (rendered as the model writes them) is enough for it to follow.
    """
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    earlier = [
        HumanMessage("Get the distances from Paris to Nice and from Paris to Lyon."),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_distance", "args": {"city": "Nice"}, "id": "a"},
                {"name": "get_distance", "args": {"city": "Lyon"}, "id": "b"},
            ],
        ),
        ToolMessage("932", tool_call_id="a"),
        ToolMessage("467", tool_call_id="b"),
        AIMessage("Nice is 932 km and Lyon is 467 km from Paris."),
    ]
    question = [*earlier, HumanMessage("Get the distances from Paris to Lille and to Nice.")]
    reply = chat.bind_tools([get_distance], parallel_tool_calls=True).invoke(question)
    cities = sorted(str(c["args"].get("city", "")).strip().lower() for c in reply.tool_calls)
    assert cities == ["lille", "nice"], reply.tool_calls
    assert len({c["id"] for c in reply.tool_calls}) == 2

    one = chat.bind_tools([get_distance]).invoke(question)  # one call per reply by default
    assert len(one.tool_calls) == 1


@tool
def final_velocity(
    initial_velocity: Annotated[float, "The starting speed in metres per second."],
    acceleration: Annotated[float, "The acceleration in metres per second squared."],
    time: Annotated[float, "How long it accelerates, in seconds."],
) -> float:
    """Calculate the final velocity of an object from its initial velocity, acceleration and
    time."""
    return initial_velocity + acceleration * time


def test_a_tool_that_fits_by_meaning_is_called_and_the_others_are_not_offered(
    pool: Any, tmp_path: Any
) -> None:
    """No word of the request names a tool; the encoder finds that `final_velocity` fits, so the
    step is a tool step, its first move must be a call, and the far tools are not offered."""
    from lamina import Agent
    from lamina.config import get_settings

    agent = Agent(
        models=[MODEL],
        pool=pool,
        settings=get_settings(home=tmp_path, seed=0),
        routes=[],
        tools=[get_distance, final_velocity, km_to_miles],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        model_settings={"max_tokens": 64},
    )
    request = (
        "What speed does an object reach after it accelerates at 2 m/s^2 for 5 seconds, "
        "starting at 10 m/s?"
    )
    assert not step_needs_tool(request, agent.context.tools)  # words alone see no tool step
    result = agent.run(request)
    (event,) = [e for e in result.trace if e["layer"] == "execution"]
    fit = event["data"]["tool_fit"]
    assert fit["fits"] is True, fit
    assert "final_velocity" in fit["shortlist"]
    assert "get_distance" not in fit["shortlist"], fit
    done = [c for c in result.tool_calls if c.name == "final_velocity" and c.error is None]
    assert done, result.tool_calls
    assert sorted(float(v) for v in done[0].arguments.values()) == [2.0, 5.0, 10.0]
    assert "20" in result.answer, result.answer


@pytest.mark.parametrize("guards", ["all on", "all off"])
def test_a_tool_task_runs_with_every_guard_on_or_off(guards: str, pool: Any, tmp_path: Any) -> None:
    """A user on a larger model may switch every small-model guard off; the agent still runs a
    tool task end to end on the default model. With the guards on the answer is also right; with
    them off the 135M model is on its own, so only the run's shape is checked, and `ok` must not
    claim a figure the calculator never returned."""
    from lamina import Agent
    from lamina.config import Guards, get_settings

    agent = Agent(
        models=[MODEL],
        pool=pool,
        settings=get_settings(home=tmp_path, seed=0),
        routes=[],
        tools=[calculator],
        memory=False,
        step_cache=False,
        checkpointer=":memory:",
        guards=Guards() if guards == "all on" else Guards.off(),
    )
    result = agent.run("What is 12 times 7?")
    assert result.answer
    assert [c.name for c in result.tool_calls][:1] == ["calculator"]
    if guards == "all on":
        assert result.ok, result.error
        assert "84" in result.answer
    elif result.ok:
        results = {c.result for c in result.tool_calls if c.result}
        assert any(r in result.answer for r in results) or "84" in result.answer
