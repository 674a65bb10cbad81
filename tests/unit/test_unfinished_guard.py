"""`lamina.guards.unfinished`: a request word that points to a tool no successful call used
makes the run `unfinished` (scored here with the word-overlap HashingEncoder)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool

from lamina.agents.verdict import judge_run
from lamina.guards.tool_relevance import ToolRelevance
from lamina.guards.unfinished import unhandled
from lamina.models.testing import HashingEncoder


@tool
def price_lookup(product: str) -> float:
    """Price of one product, in euros."""
    return 34.9


@tool
def convert_money(amount: float, source: str, target: str) -> float:
    """Convert money: dollars, euros, pounds."""
    return amount


TOOLS = {t.name: t for t in (price_lookup, convert_money)}
RELEVANCE = ToolRelevance(HashingEncoder(dim=4096), supports_above=0.3, fits_above=0.45)
LOOKUP = {"name": "price_lookup", "args": {"product": "lamp"}, "result": "34.9", "error": None}


def test_a_word_that_points_to_a_tool_no_call_used_is_found() -> None:
    found = unhandled("price of lamp in dollars", [LOOKUP], TOOLS, RELEVANCE)
    assert [(f["word"], f["tool"]) for f in found] == [("dollars", "convert_money")]
    assert found[0]["similarity"] >= RELEVANCE.supports_above


def test_words_the_calls_account_for_are_not_findings() -> None:
    convert = {
        "name": "convert_money",
        "args": {"amount": 34.9, "source": "EUR", "target": "dollars"},
        "error": None,
    }
    assert unhandled("price of lamp in dollars", [LOOKUP, convert], TOOLS, RELEVANCE) == []
    assert unhandled("price of lamp", [LOOKUP], TOOLS, RELEVANCE) == []


def test_a_run_without_a_successful_call_is_left_to_the_other_checks() -> None:
    failed = {**LOOKUP, "error": "ValueError: unknown product"}
    assert unhandled("price of lamp in dollars", [failed], TOOLS, RELEVANCE) == []
    assert unhandled("price of lamp in dollars", [], TOOLS, RELEVANCE) == []


def test_the_verdict_of_an_unfinished_run_names_the_word_and_the_tool() -> None:
    state: dict[str, Any] = {
        "task": "price of lamp in dollars",
        "answer": "34.9",
        "step_results": [{"index": 0, "result": "34.9", "tool_calls": [LOOKUP], "status": "ok"}],
        "unhandled": [{"word": "dollars", "tool": "convert_money", "similarity": 0.41}],
    }
    error = judge_run(state)
    assert error is not None
    assert error.kind == "unfinished"
    assert "'dollars'" in error.message
    assert "convert_money" in error.message
    assert error.tried == ("dollars -> convert_money (0.41)",)
    assert judge_run({**state, "unhandled": []}) is None


def test_an_abbreviation_in_a_call_accounts_for_the_word_it_abbreviates() -> None:
    # "USD" as a value accounts for "usd"; "eur" abbreviates "euros" in the request.
    convert = {
        "name": "convert_money",
        "args": {"amount": 5, "source": "eur", "target": "dollars"},
        "error": None,
    }
    assert unhandled("convert 5 euros to dollars", [convert], TOOLS, RELEVANCE) == []


def test_the_word_after_a_number_a_call_took_is_that_numbers_unit() -> None:
    # 60 went into the call, so "dollars" right after it says what 60 is: accounted for.
    tip = {"name": "price_lookup", "args": {"product": "tip", "amount": 60}, "error": None}
    assert unhandled("tip on 60 dollars", [tip], TOOLS, RELEVANCE) == []
    # Not after a number the call took: the word still points to convert_money.
    other = {**tip, "args": {"product": "tip", "amount": 61}}
    assert [f["word"] for f in unhandled("tip on 60 dollars", [other], TOOLS, RELEVANCE)] == [
        "dollars"
    ]


@tool
def exchange(amount: float, target: str) -> float:
    """Exchange an amount."""
    return amount


def test_a_unit_word_is_accounted_for_by_its_code_in_a_call() -> None:
    tools = {t.name: t for t in (price_lookup, exchange, convert_money)}
    swap = {"name": "exchange", "args": {"amount": 34.9, "target": "USD"}, "error": None}
    assert unhandled("price of lamp in dollars", [LOOKUP, swap], tools, RELEVANCE) == []
    other = {**swap, "args": {"amount": 34.9, "target": "JPY"}}  # yen is not dollars
    found = unhandled("price of lamp in dollars", [LOOKUP, other], tools, RELEVANCE)
    assert [f["word"] for f in found] == ["dollars"]


@tool
def convert_temperature(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a temperature."""
    return 37.0


@tool
def celsius_reading(city: str) -> str:
    """Celsius reading."""
    return "21 C"


def test_a_unit_word_is_accounted_for_by_the_unit_a_call_wrote_as_one_letter() -> None:
    tools = {t.name: t for t in (convert_temperature, celsius_reading)}
    call = {
        "name": "convert_temperature",
        "args": {"value": 98.6, "from_unit": "F", "to_unit": "C"},
        "result": "37.0",
        "error": None,
    }
    request = "98.6 fahrenheit in celsius?"
    assert unhandled(request, [call], tools, RELEVANCE) == []


def test_a_text_wrong_about_the_unit_of_a_converted_figure_gives_way_to_the_figure() -> None:
    from lamina.guards.result_units import with_result_units

    tools = {"convert_temperature": convert_temperature}
    call = {
        "name": "convert_temperature",
        "args": {"value": 21, "from_unit": "C", "to_unit": "F"},
        "result": "69.8",
        "error": None,
    }
    assert with_result_units("The tool returned 69.8 degrees Celsius.", [call], tools) == "69.8 F"
    assert with_result_units("It is 69.8 °F.", [call], tools) == "It is 69.8 °F."


@tool
def stock(product: str) -> int:
    """Warehouse units."""
    return 18


def test_a_word_only_a_value_holds_still_points_to_a_tool_that_fits_it() -> None:
    tools = {**TOOLS, "stock": stock}
    request = "the price of the monitors in the warehouse"
    lookup = {**LOOKUP, "args": {"product": "the monitors in the warehouse"}}
    assert unhandled(request, [lookup], tools, RELEVANCE) == []  # the value accounts for it
    found = unhandled(request, [lookup], tools, RELEVANCE, in_values=True)
    assert [(f["word"], f["tool"]) for f in found] == [("warehouse", "stock")]
    assert found[0]["similarity"] >= 0.45  # fits on meaning alone, not only supports
    # once the tool it fits is called, the word is handled
    counted = {"name": "stock", "args": {"product": "monitor"}, "result": "18", "error": None}
    assert unhandled(request, [lookup, counted], tools, RELEVANCE, in_values=True) == []


@tool
def weather(city: str) -> str:
    """Current weather in a city: temperature in degrees Celsius, conditions."""
    return "2 °C, rain"


class _CloseToWeather:
    """A tool weigher under which every word is close to `weather`."""

    supports_above = 0.3

    def assess_each(self, texts: Any, tools: Any) -> list[Any]:
        from lamina.guards.tool_relevance import ToolFit

        return [ToolFit({n: (0.6 if n == "weather" else 0.0) for n in tools}) for _ in texts]


class _CloseTo(_CloseToWeather):
    def __init__(self, name: str) -> None:
        self.name = name

    def assess_each(self, texts: Any, tools: Any) -> list[Any]:
        from lamina.guards.tool_relevance import ToolFit

        return [ToolFit({n: (0.5 if n == self.name else 0.0) for n in tools}) for _ in texts]


def _unit_tools() -> dict[str, Any]:
    from lamina.tools.calculator import calculator

    @tool
    def convert(value: float, to_unit: str) -> float:
        """Convert a length into another unit."""
        return value

    return {"convert": convert, "calculator": calculator}


_UNIT_TOOLS = _unit_tools()


class _CloseToNothing(_CloseToWeather):
    def assess_each(self, texts: Any, tools: Any) -> list[Any]:
        from lamina.guards.tool_relevance import ToolFit

        return [ToolFit({"weather": 0.0, "product_price": 0.2}) for _ in texts]


def test_a_name_a_called_tool_was_not_asked_about_is_unfinished() -> None:
    from lamina.guards.parts_left_out import names_left_out

    task = "How much colder is it in Reykjavik than in Nairobi right now, in degrees C?"
    tools = {"weather": weather}

    def call(city: str) -> dict[str, Any]:
        return {"name": "weather", "args": {"city": city}, "result": "2 °C, rain", "error": None}

    found = names_left_out(task, [call("Reykjavik"), call("Reykjavik")], tools, _CloseToWeather())
    assert [(f["word"], f["tool"]) for f in found] == [("Nairobi", "weather")]
    assert (
        names_left_out(task, [call("Reykjavik"), call("nairobi")], tools, _CloseToWeather()) == []
    )
    # a name that starts the sentence, a unit's name, or no call at all: nothing owed
    assert (
        names_left_out("Nairobi is warm. In Celsius?", [call("Lisbon")], tools, _CloseToWeather())
        == []
    )
    assert names_left_out(task, [], tools, _CloseToWeather()) == []
    # a month of a date, and the first word of a currency's name, are no names of things
    dated = "Weather in Oslo on September 1st? And in Australian dollars?"
    assert names_left_out(dated, [call("Oslo")], tools, _CloseToWeather()) == []
    # a name closest to another tool is owed the call that took a name of the request
    both = "Is it warmer in Lisbon or in Berlin right now?"
    found = names_left_out(both, [call("Lisbon")], tools, _CloseToNothing())
    assert [(f["word"], f["tool"], f["again"]) for f in found] == [("Berlin", "weather", True)]
    assert names_left_out(both, [call("the city")], tools, _CloseToNothing()) == []
    # the calculator's expression and a unit are no names: "Tower" is owed no calculator call
    tower = "The Eiffel Tower is 330 m tall. How many times taller is it than a 100 ft house?"
    worked = [
        {"name": "convert", "args": {"value": 330, "to_unit": "ft"}, "result": 1082.677},
        {"name": "calculator", "args": {"expression": "1082.677 / 100"}, "result": 10.8},
    ]
    assert names_left_out(tower, worked, _UNIT_TOOLS, _CloseTo("calculator")) == []
    assert names_left_out(tower, worked[:1], _UNIT_TOOLS, _CloseTo("convert")) == []


def test_a_thing_coordinated_with_one_a_call_took_is_owed_the_same_call() -> None:
    from lamina.guards.parts_left_out import coordinated_with, names_left_out

    @tool
    def product_price(product: str) -> float:
        """Look up the unit price of a product."""
        return 1.0

    tools = {"product_price": product_price}

    def call(product: str) -> dict[str, Any]:
        return {"name": "product_price", "args": {"product": product}, "result": 1, "error": None}

    task = "A monitor and a webcam together cost how much?"
    found = names_left_out(task, [call("webcam")], tools, _CloseToNothing())
    assert [(f["word"], f["tool"]) for f in found] == [("monitor", "product_price")]
    assert names_left_out(task, [call("webcam"), call("monitor")], tools, _CloseToNothing()) == []
    assert coordinated_with("Is it a webcam or a phone case?", "a webcam") == ["phone case"]
    # no article, no coordination of things: "tell" is no thing
    assert coordinated_with("Find the price of a webcam and tell me.", "webcam") == []


def test_a_follow_up_that_refers_to_the_last_answer_must_use_its_figure() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    messages = [
        HumanMessage("How much is a water bottle?"),
        AIMessage("18.75"),
        HumanMessage("and what is that plus 10?"),
    ]

    def state(args: dict[str, Any]) -> dict[str, Any]:
        done = {"name": "calc", "args": args, "result": "28.75", "error": None}
        return {
            "task": "and what is that plus 10?",
            "messages": messages,
            "answer": "28.75",
            "step_results": [{"index": 0, "result": "28.75", "tool_calls": [done], "status": "ok"}],
        }

    error = judge_run(state({"bill": 10, "tip_percent": 10}))
    assert error is not None
    assert error.kind == "unused_input"
    assert "18.75" in error.message
    assert judge_run(state({"expression": "18.75 + 10"})) is None
    # "that" after a figure of the request's own refers to it, not to the thread
    own = {**state({"expression": "5 * 7"}), "task": "I run 5 km a day. How far is that in a week?"}
    assert judge_run(own) is None or "18.75" not in judge_run(own).message  # type: ignore[union-attr]


def test_split_the_total_refers_to_the_thread_s_last_figure() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    done = {"name": "count", "args": {"text": "the total 3"}, "result": "3", "error": None}
    state = {
        "task": "Split the total 3 ways for me",
        "messages": [
            HumanMessage("64 dollar bill with a 15% tip?"),
            AIMessage("tip: 9.60, total: 73.60"),
            HumanMessage("Split the total 3 ways for me"),
        ],
        "answer": "The tool returned 3.",
        "step_results": [{"index": 0, "result": "3", "tool_calls": [done], "status": "ok"}],
    }
    error = judge_run(state)
    assert error is not None
    assert error.kind == "unused_input"
    assert "73.60" in error.message
    # the last answer counted as a text is not its figure used: after word_count("9.60, total:
    # 73.60") SmolLM2 tipped 3, and the run was ok
    counted = {**done, "args": {"text": "9.60, total: 73.60"}}
    tipped = {
        "name": "tip",
        "args": {"bill": 3, "tip_percent": 15},
        "result": "3.45",
        "error": None,
    }
    texts = [{"index": 0, "result": "3.45", "tool_calls": [counted, tipped], "status": "ok"}]
    error = judge_run({**state, "answer": "3.45", "step_results": texts})
    assert error is not None
    assert error.kind == "unused_input"


def test_a_follow_up_that_used_any_figure_of_the_last_answer_used_it() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    done = {
        "name": "convert",
        "args": {"value": 21, "from_unit": "C", "to_unit": "F"},
        "result": "69.8",
        "error": None,
    }
    state = {
        "task": "What's that in Fahrenheit?",
        "messages": [
            HumanMessage("What's the weather like in Lisbon?"),
            AIMessage("Lisbon: 21 °C, sunny, wind 14 km/h, humidity 60 %"),
            HumanMessage("What's that in Fahrenheit?"),
        ],
        "answer": "69.8 degrees fahrenheit",
        "step_results": [{"index": 0, "result": "69.8", "tool_calls": [done], "status": "ok"}],
    }
    assert judge_run(state) is None


def test_money_the_request_gives_answers_what_it_asks_things_cost() -> None:
    @tool
    def count_words(text: str) -> int:
        """Count the words in a text."""
        return 5

    @tool
    def product_cost(product: str) -> float:
        """Look up what a product costs."""
        return 3.0

    tools = {t.name: t for t in (count_words, product_cost)}
    task = "Proofreading is 0.35 USD per word. What does the text cost, word by word?"
    counted = {"name": "count_words", "args": {"text": "the text"}, "result": 5, "error": None}
    times = {"name": "count_words", "args": {"text": "0.35 * 5"}, "result": 5, "error": None}
    assert "cost" in [f["word"] for f in unhandled(task, [counted], tools, RELEVANCE)]
    # once 0.35 went into the arithmetic, "cost" asks what the given rate answered
    assert "cost" not in [f["word"] for f in unhandled(task, [counted, times], tools, RELEVANCE)]


def test_all_of_them_refers_to_the_things_the_thread_counted() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from lamina.layers.reasoning.thread import counted_earlier

    asked = "What would all of them cost together?"
    messages = [
        HumanMessage("How many standing desks do we have in stock?"),
        AIMessage("12"),
        HumanMessage(asked),
    ]
    assert counted_earlier(asked, messages) == "12 standing desks"
    # no reference, a figure of its own, or an earlier turn that counted nothing
    assert counted_earlier("What does a standing desk cost?", messages) is None
    assert counted_earlier("What would 3 of those cost?", messages) is None
    priced = [HumanMessage("What does a desk cost?"), AIMessage("399"), HumanMessage(asked)]
    assert counted_earlier(asked, priced) is None
    assert counted_earlier(asked, messages[-1:]) is None

    def state(args: dict[str, Any]) -> dict[str, Any]:
        done = {"name": "price", "args": args, "result": "399", "error": None}
        return {
            "task": asked,
            "messages": messages,
            "answer": "399",
            "step_results": [{"index": 0, "result": "399", "tool_calls": [done], "status": "ok"}],
        }

    # one desk's price answers nothing about all twelve
    error = judge_run(state({"product": "standing desk"}))
    assert error is not None
    assert error.kind == "unused_input"
    assert "12" in error.message
    assert judge_run(state({"expression": "399 * 12"})) is None


def test_the_words_of_a_comparison_worked_out_are_accounted_for() -> None:
    @tool
    def stock(product: str) -> int:
        """Units in stock of a product."""
        return 254

    @tool
    def freight(weight_kg: float) -> float:
        """What it costs when it ships: ships parcels."""
        return 6.0

    tools = {t.name: t for t in (stock, freight)}
    task = "An order for 40 bottles came in. How many will be left in stock once it ships?"
    looked_up = {"name": "stock", "args": {"product": "bottle"}, "result": 254, "error": None}
    subtracted = {"name": "stock", "args": {"product": "254 - 40"}, "result": 214, "error": None}
    assert "ships" in [f["word"] for f in unhandled(task, [looked_up], tools, RELEVANCE)]
    done = [looked_up, subtracted]
    assert "ships" not in [f["word"] for f in unhandled(task, done, tools, RELEVANCE)]


def test_a_tool_that_names_no_unit_returns_the_currency_of_the_money_it_took() -> None:
    from lamina.guards.unfinished import answered_in_another_unit

    @tool
    def tip(bill: float, tip_percent: float) -> str:
        """Work out the tip on a bill and the total to pay with it."""
        return "tip: 18.00, total: 138.00"

    @tool
    def postage(weight_kg: float) -> float:
        """Price in euros of sending one parcel."""
        return 6.0

    tools = {"tip": tip, "postage": postage}
    task = "Dinner came to 120 CHF. Turn that into euros and add a 15% tip."
    tipped = {
        "name": "tip",
        "args": {"bill": 120, "tip_percent": 15},
        "result": "tip: 18.00, total: 138.00",
        "error": None,
    }
    found = answered_in_another_unit(task, "tip: 18.00, total: 138.00", [tipped], tools)
    # the total, not the tip, is what is converted
    assert found == [{"word": "EUR", "asked": "EUR", "answered": "CHF", "figure": "138"}]
    # a bill the request gives without a currency, or a tool that names its own unit: nothing
    bare = "Dinner came to 120. In euros, with a 15% tip?"
    assert answered_in_another_unit(bare, "tip: 18.00, total: 138.00", [tipped], tools) == []
    sent = {"name": "postage", "args": {"weight_kg": 2}, "result": "6.0", "error": None}
    parcel = "Send 2 kg, paid with 120 CHF. What is it in EUR?"
    assert answered_in_another_unit(parcel, "6.0", [sent], tools) == []


def test_the_unit_of_a_figure_a_share_of_it_used_is_accounted_for() -> None:
    from lamina.tools.calculator import calculator

    @tool
    def to_dollars(amount: float) -> float:
        """Convert an amount into dollars."""
        return amount

    tools = {t.name: t for t in (calculator, to_dollars)}
    task = "What's 15 percent of 80 dollars?"
    share = {"name": "calculator", "args": {"expression": "15 percent of 80"}, "result": "12"}
    other = {"name": "calculator", "args": {"expression": "15 * 2"}, "result": "30"}
    assert "dollars" in [f["word"] for f in unhandled(task, [other], tools, RELEVANCE)]
    # 80 went into the calculator as a share of it: "dollars" says what 80 is
    assert unhandled(task, [{**share, "error": None}], tools, RELEVANCE) == []


def test_arithmetic_in_braces_used_the_numbers_it_holds() -> None:
    from lamina.tools.calculator import calculator

    @tool
    def add_days(date: str, days: int) -> str:
        """The date a number of days after a date (minus days: before it)."""
        return date

    tools = {t.name: t for t in (calculator, add_days)}
    task = "What is 15 minus 27?"
    braced = {"name": "calculator", "args": {"expression": "{15 - 27}"}, "error": None}
    # the calculator reads braces as parentheses: "minus" says what 15 is, which the call took
    assert unhandled(task, [{**braced, "result": "-12"}], tools, RELEVANCE) == []


def test_the_thing_after_a_used_amount_s_unit_is_accounted_for() -> None:
    from lamina.tools.calculator import calculator

    @tool
    def pay_bill(bill: float) -> str:
        """Pay a bill."""
        return "paid"

    tools = {t.name: t for t in (calculator, pay_bill)}
    task = "Split a 120 euro bill between 4 people"
    shared = {"name": "calculator", "args": {"expression": "120 / 4"}, "error": None}
    other = {"name": "calculator", "args": {"expression": "4 * 2"}, "error": None}
    assert "bill" in [f["word"] for f in unhandled(task, [other], tools, RELEVANCE)]
    # 120 went into the division: "bill" says what the 120 euros are
    assert unhandled(task, [{**shared, "result": "30"}], tools, RELEVANCE) == []


class _PayIsATip(_CloseToWeather):
    def assess_each(self, texts: Any, tools: Any) -> list[Any]:
        from lamina.guards.tool_relevance import ToolFit

        return [
            ToolFit({n: (0.5 if (n, t) == ("add_tip", "pay") else 0.0) for n in tools})
            for t in texts
        ]


def test_a_word_that_asks_for_an_amount_is_accounted_for_by_money_a_call_returned() -> None:
    @tool
    def add_tip(bill: float, percent: float) -> str:
        """Add a tip to a bill you pay."""
        return ""

    tools = {**TOOLS, "add_tip": add_tip}
    # `pay` is close to add_tip alone: a price in euros accounts for it
    assert (
        unhandled("A lamp with a 15% discount, what do I pay?", [LOOKUP], tools, _PayIsATip()) == []
    )
    count = {"name": "convert_money", "args": {"amount": 3, "source": "a", "target": "b"}}
    counted = {**count, "result": "3", "error": None}
    found = unhandled("How many lamps? What do I pay?", [counted], tools, _PayIsATip())
    assert [(f["word"], f["tool"]) for f in found] == [("pay", "add_tip")]


def test_operator_words_of_arithmetic_a_call_computed_are_accounted_for() -> None:
    from lamina.tools.calculator import calculator

    @tool
    def minus_days(date: str, days: int) -> str:
        """Minus days."""
        return date

    tools = {t.name: t for t in (calculator, minus_days)}
    computed = {"name": "calculator", "args": {"expression": "7 ** 2 - 9"}, "error": None}
    # "minus" pointed to the date tool (0.35 against the bench's add_days), though the
    # calculator did the subtraction
    assert unhandled("What's 7 squared minus 9?", [computed], tools, RELEVANCE) == []
    other = {"name": "calculator", "args": {"expression": "7 ** 2"}, "error": None}
    found = unhandled("What's 7 squared minus 9?", [other], tools, RELEVANCE)
    assert [f["word"] for f in found] == ["minus"]
