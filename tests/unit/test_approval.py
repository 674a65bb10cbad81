"""Tools that need approval: the run pauses (LangGraph interrupt), resumes approved or refused.

Driven by the scripted FakeChatModel, whose script also proves that a resumed run does not ask
the model again for replies it already gave (each response can be consumed only once).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from typer.testing import CliRunner

import lamina.cli.run as run_cli
from lamina import Agent
from lamina.core.context import AgentContext, StaticModels
from lamina.core.state import AgentState
from lamina.errors import ConfigError, InputError
from lamina.layers.execution import APPROVAL_REQUEST, make_execution_node, requires_approval
from lamina.models.testing import FakeChatModel, ToolCallScript
from lamina.tools.calculator import calculator
from lamina.tools.decorator import tool

MODEL = "fake"


class Bank:
    def __init__(self) -> None:
        self.transfers: list[dict[str, Any]] = []
        self.lookups = 0

    def tools(self) -> list[BaseTool]:
        @tool(requires_approval=True)
        def transfer(
            to: Annotated[str, "Who receives the money."],
            amount: Annotated[int, "How much, in euros."],
        ) -> str:
            """Send money to someone."""
            self.transfers.append({"to": to, "amount": amount})
            return f"sent {amount} EUR to {to}"

        @tool
        def balance(account: Annotated[str, "The account name."]) -> int:
            """Look up an account's balance."""
            self.lookups += 1
            return 500

        return [balance, transfer]


def script() -> FakeChatModel:
    return FakeChatModel(
        responses=[
            ToolCallScript("balance", {"account": "main"}),
            ToolCallScript("transfer", {"to": "Bob", "amount": 50}),
            "Sent 50 EUR to Bob.",
        ]
    )


def agent_with(fake: FakeChatModel, tools: list[BaseTool], checkpointer: Any = ":memory:") -> Agent:
    return Agent(
        chat_models={MODEL: fake},
        routes=[],
        tools=tools,
        memory=False,
        step_cache=False,
        checkpointer=checkpointer,
    )


def test_metadata_marks_tools_that_need_approval() -> None:
    balance, transfer = Bank().tools()
    assert requires_approval(transfer)
    assert not requires_approval(balance)
    assert not requires_approval(calculator)


@pytest.mark.parametrize("saver", ["memory", "sqlite"])
def test_run_pauses_before_the_tool_and_resumes_approved(saver: str, tmp_path: Any) -> None:
    bank = Bank()
    fake = script()
    checkpointer = ":memory:" if saver == "memory" else tmp_path / "checkpoints.sqlite"
    agent = agent_with(fake, bank.tools(), checkpointer)

    paused = agent.run("Use balance on the main account and transfer to send Bob 50 euros.")
    assert paused.interrupted
    request = paused.pending_approval
    assert request is not None
    assert request.tool == "transfer"
    assert request.args == {"to": "Bob", "amount": 50}
    assert request.description == "Send money to someone."
    assert request.model == MODEL
    assert paused.answer == ""
    assert bank.transfers == []  # not run before approval
    assert bank.lookups == 1
    assert fake.remaining == 1
    assert paused.to_dict()["pending_approval"]["tool"] == "transfer"

    done = agent.resume(paused.thread_id, approve=True)
    assert not done.interrupted
    assert done.pending_approval is None
    assert done.answer == "Sent 50 EUR to Bob."
    assert bank.transfers == [{"to": "Bob", "amount": 50}]
    # the resumed node replayed the saved model replies and tool results
    assert bank.lookups == 1
    assert fake.remaining == 0
    assert [(c.name, c.approval) for c in done.tool_calls] == [
        ("balance", ""),
        ("transfer", "approved"),
    ]
    assert done.tool_calls[1].result == "sent 50 EUR to Bob"


def test_refused_call_becomes_a_tool_message_and_the_tool_never_runs() -> None:
    bank = Bank()
    fake = FakeChatModel(
        responses=[
            ToolCallScript("transfer", {"to": "Eve", "amount": 900}),
            "I did not send the money.",
        ]
    )
    agent = agent_with(fake, bank.tools())
    paused = agent.run("Use the transfer tool to send Eve 900 euros.")
    assert paused.interrupted

    done = agent.resume(paused.thread_id, approve=False)
    assert bank.transfers == []
    assert done.answer == "I did not send the money."
    (record,) = done.tool_calls
    assert record.kind == "refused"
    assert record.approval == "refused"
    assert record.result is None
    feedback = [m for m in fake.calls[-1] if isinstance(m, ToolMessage)]
    assert feedback[-1].status == "error"
    assert "the user did not approve calling 'transfer'" in str(feedback[-1].content)


def test_a_refused_call_sent_again_is_refused_without_asking() -> None:
    bank = Bank()
    again = ToolCallScript("transfer", {"to": "Eve", "amount": 900})
    fake = FakeChatModel(responses=[again, again, "ok, I won't."])
    agent = agent_with(fake, bank.tools())
    paused = agent.run("Use the transfer tool to send Eve 900 euros.")
    done = agent.resume(paused.thread_id, approve=False)
    assert not done.interrupted  # the repeat did not pause the run a second time
    assert [c.kind for c in done.tool_calls] == ["refused", "refused"]
    assert bank.transfers == []


def test_each_call_needing_approval_pauses_in_turn() -> None:
    bank = Bank()
    fake = FakeChatModel(
        responses=[
            ToolCallScript("transfer", {"to": "Ann", "amount": 1}),
            ToolCallScript("transfer", {"to": "Ben", "amount": 2}),
            "done",
        ]
    )
    agent = agent_with(fake, bank.tools())
    first = agent.run("Transfer 1 euro to Ann and 2 to Ben.")
    assert first.pending_approval is not None
    assert first.pending_approval.args["to"] == "Ann"
    second = agent.resume(first.thread_id, approve=True)
    assert second.pending_approval is not None
    assert second.pending_approval.args["to"] == "Ben"
    assert bank.transfers == [{"to": "Ann", "amount": 1}]
    third = agent.resume(first.thread_id, approve=False)
    assert not third.interrupted
    assert bank.transfers == [{"to": "Ann", "amount": 1}]
    assert [c.approval for c in third.tool_calls] == ["approved", "refused"]


def test_resume_needs_an_unfinished_run_and_a_fitting_answer() -> None:
    agent = agent_with(FakeChatModel(responses=["hello"]), [calculator])
    result = agent.run("Say hello.")
    assert not result.interrupted
    with pytest.raises(InputError, match="has no unfinished run to resume"):
        agent.resume(result.thread_id)
    with pytest.raises(InputError, match="has no run to resume"):
        agent.resume("no-such-thread")
    with pytest.raises(InputError, match="approve must be True, False or None"):
        agent.resume(result.thread_id, approve="yes")  # type: ignore[arg-type]


def test_a_paused_run_needs_an_answer_to_resume() -> None:
    bank = Bank()
    agent = agent_with(script(), bank.tools())
    paused = agent.run("Use balance on the main account and transfer to send Bob 50 euros.")
    with pytest.raises(InputError, match=r"waiting for an approval of transfer\("):
        agent.resume(paused.thread_id)
    assert bank.transfers == []
    assert agent.resume(paused.thread_id, approve=False).answer


def test_the_interrupt_value_and_resume_values_of_the_graph() -> None:
    """The contract for user-built graphs: the interrupt's value, and what resume accepts."""
    bank = Bank()
    graph = StateGraph(AgentState, context_schema=AgentContext)
    graph.add_node("execution", make_execution_node())  # type: ignore[call-overload]
    graph.add_edge(START, "execution")
    graph.add_edge("execution", END)
    app = graph.compile(checkpointer=InMemorySaver())
    fake = FakeChatModel(responses=[ToolCallScript("transfer", {"to": "Bob", "amount": 5}), "ok"])
    context = AgentContext(
        models=StaticModels({MODEL: fake}),
        default_model=MODEL,
        tools={t.name: t for t in bank.tools()},
    )
    config: Any = {"configurable": {"thread_id": "t1"}}
    out = app.invoke(
        {"messages": [HumanMessage("Pay Bob 5.")], "trace": []}, config, context=context
    )
    (pending,) = out["__interrupt__"]
    assert pending.value["type"] == APPROVAL_REQUEST
    assert pending.value["tool"] == "transfer"
    json.dumps(pending.value)  # JSON-safe

    for bad in ("sure", "yes", 1, {"approved": "yes"}):
        with pytest.raises(InputError, match="expected True, False"):
            app.invoke(Command(resume=bad), config, context=context)
    assert bank.transfers == []
    out = app.invoke(Command(resume={"approved": True}), config, context=context)
    assert out["step_results"][0]["result"] == "ok"
    assert bank.transfers == [{"to": "Bob", "amount": 5}]


def test_approval_outside_a_graph_is_a_config_error() -> None:
    bank = Bank()
    fake = FakeChatModel(responses=[ToolCallScript("transfer", {"to": "Bob", "amount": 5})])
    context = AgentContext(
        models=StaticModels({MODEL: fake}),
        default_model=MODEL,
        tools={t.name: t for t in bank.tools()},
    )
    node = make_execution_node()
    state: Any = {"messages": [], "task": "Pay Bob 5.", "model": MODEL, "trace": []}
    with pytest.raises(ConfigError, match="requires approval"):
        node(state, Runtime(context=context))
    assert bank.transfers == []


# -- lamina run --------------------------------------------------------------------------------
class AgentFactory:
    def __init__(self) -> None:
        self.bank = Bank()

    def __call__(self, _config: Any, *_: Any) -> Agent:
        fake = FakeChatModel(
            responses=[ToolCallScript("transfer", {"to": "Bob", "amount": 50}), "All done."]
        )
        return agent_with(fake, self.bank.tools())


@pytest.mark.parametrize(
    ("args", "stdin", "sent"),
    [
        (["--yes"], None, True),
        ([], "y\n", True),
        ([], "n\n", False),
        ([], None, False),  # no terminal to ask: refused
    ],
)
def test_cli_asks_before_a_tool_that_needs_approval(
    monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str | None, sent: bool
) -> None:
    factory = AgentFactory()
    monkeypatch.setattr(run_cli, "build_agent", factory)
    from lamina.cli import app

    result = CliRunner().invoke(app, ["run", "Transfer 50 euros to Bob.", *args], input=stdin)
    # refused, the transfer never ran: "All done." rests on nothing, and the run says so
    assert result.exit_code == (0 if sent else run_cli.NOT_OK_EXIT), result.output
    assert ("not answered (unverified)" in result.output) is not sent
    assert "approval needed: transfer" in result.output
    assert '"amount": 50' in result.output
    assert "All done." in result.output
    assert (factory.bank.transfers == [{"to": "Bob", "amount": 50}]) is sent


def test_cli_json_mode_approves_with_yes_and_prints_only_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = AgentFactory()
    monkeypatch.setattr(run_cli, "build_agent", factory)
    from lamina.cli import app

    result = CliRunner().invoke(app, ["run", "Transfer 50 euros to Bob.", "--json", "--yes"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "All done."
    assert data["interrupted"] is False
    assert data["tool_calls"][0]["approval"] == "approved"
    assert factory.bank.transfers == [{"to": "Bob", "amount": 50}]
