"""Grounding: tool arguments narrowed to the numbers a run was given."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lamina.guards.grounding import Grounding, grounded_numbers, grounded_spans
from lamina.models.grammar import compile_grammar, json_schema_grammar

DEMO = "My bike lock costs 15 dollars. First compute 12 times 7, then compute that result plus 15"


def test_numbers_as_people_write_them() -> None:
    numbers, literals = grounded_numbers(
        ["It came to 2,340.50 on 2025-02-10, tip 17.5%, split four ways, -3 degrees, a dozen"]
    )
    # -3 is not 3 too: offered 3 for "Oslo: -3 °C", SmolLM2 converted 3 °C (ok=True, wrong)
    assert numbers == [2340.5, 2025, 2, 10, 17.5, 0.175, 100, -3, 4, 12]
    assert {"2,340.50", "2340.50", "02", "17.5", "0.175", "3"} <= set(literals)


def test_an_operator_minus_is_not_a_sign() -> None:
    numbers, _ = grounded_numbers(["(1250 - 380) / 6"])
    assert numbers == [1250, 380, 6]


def _expression(grounding: Grounding) -> str:
    own = "^[A-Za-z+*/(){} -]+$"  # a calculator-like pattern of the tool's own
    schema = {"type": "object", "properties": {"expression": {"type": "string", "pattern": own}}}
    narrowed = grounding.narrow(schema)
    assert narrowed is not None
    return str(narrowed["properties"]["expression"]["pattern"])


@pytest.mark.parametrize("text", ["12 * 7", "84 + 15", "(12 * 7) + 15", "12 times 7", "{12} * 7"])
def test_strings_may_hold_the_given_numbers(text: str) -> None:
    assert re.fullmatch(_expression(Grounding.from_texts([DEMO, "84"])), text)


@pytest.mark.parametrize("text", ["{12.5} * {7}", "127", "12.7 + 15", "99", "84 + 16", ""])
def test_strings_cannot_hold_an_invented_number(text: str) -> None:
    assert not re.fullmatch(_expression(Grounding.from_texts([DEMO, "84"])), text)


def test_numbers_become_an_enum_within_the_bounds() -> None:
    grounding = Grounding.from_texts(["ship 2.5 kg, 3 parcels, 0 extras"])
    schema = {
        "type": "object",
        "properties": {
            "weight": {"type": "number", "exclusiveMinimum": 0},
            "count": {"type": "integer", "maximum": 2},
            "zone": {"type": "string", "enum": ["eu", "world"]},
        },
        "required": ["weight"],
    }
    narrowed = grounding.narrow(schema)
    assert narrowed is not None
    # 0 is out of bounds; 3 counts parcels, no weight
    assert narrowed["properties"]["weight"]["enum"] == [2.5]
    assert narrowed["properties"]["count"]["enum"] == [0]
    assert narrowed["properties"]["zone"] == {"type": "string", "enum": ["eu", "world"]}
    assert schema["properties"]["weight"] == {"type": "number", "exclusiveMinimum": 0}  # a copy


def test_a_required_number_nobody_gave_makes_the_tool_uncallable() -> None:
    schema = {
        "type": "object",
        "properties": {"days": {"type": "integer"}, "note": {"type": "integer"}},
        "required": ["days"],
    }
    assert Grounding.from_texts(["What is the weather?"]).narrow(schema) is None
    optional = {**schema, "required": []}
    narrowed = Grounding.from_texts(["What is the weather?"]).narrow(optional)
    assert narrowed is not None
    assert narrowed["properties"] == {}


def test_the_narrowed_schema_makes_a_grammar_of_only_given_values() -> None:
    grounding = Grounding.from_texts(["Convert 5 miles to km"])
    schema = {
        "type": "object",
        "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
        "required": ["value", "unit"],
    }
    narrowed = grounding.narrow(schema)
    assert narrowed is not None
    grammar = json_schema_grammar(narrowed)
    assert re.search(r'^value-? ::= "5"$', grammar, re.M)  # the one number given


def test_the_calculators_own_pattern_is_kept_and_grounded() -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from lamina.models.tool_calls import shown_properties
    from lamina.tools.calculator import calculator

    parameters = convert_to_openai_tool(calculator)["function"]["parameters"]
    narrowed = Grounding.from_texts(["compute 84 plus 15"]).narrow(parameters)
    assert narrowed is not None
    pattern = narrowed["properties"]["expression"]["pattern"]
    assert re.fullmatch(pattern, "84 + 15")
    assert re.fullmatch(pattern, "sqrt(84)")
    assert re.fullmatch(pattern, "{{15 + 84 }}")  # braces group, as SmolLM2 likes to write
    for invented in ("{12.5} * 7", "8415", "84 + 16", "", "84 # 15"):
        assert not re.fullmatch(pattern, invented)
    assert "pattern" not in shown_properties(narrowed)["expression"]  # the prompt stays plain


def test_an_own_pattern_that_cannot_be_combined_is_left_alone() -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^A\\d+$"}}}
    narrowed = Grounding.from_texts(["code 42"]).narrow(schema)
    assert narrowed is not None
    assert narrowed["properties"]["code"]["pattern"] == "^A\\d+$"


def test_free_strings_are_spans_of_what_was_given() -> None:
    grounding = Grounding.from_texts(["What is the unit price of a melon?"])
    schema = {"type": "object", "properties": {"product": {"type": "string"}}}
    assert grounding.narrow(schema) == schema  # free until one of its values fails
    narrowed = grounding.narrow(schema, {"product": {"apple"}})
    assert narrowed is not None
    offered = narrowed["properties"]["product"]["enum"]
    for given in ("melon", "a melon", "unit price", "what is the unit price of a melon"):
        assert given in offered
    for made_up in ("apple", "the melon", "melons", ""):  # "apple": the tool's example
        assert made_up not in offered


def test_a_span_with_a_quote_or_backslash_is_offered_in_a_grammar_that_compiles() -> None:
    # llama.cpp's converter wrote `"7, \\"from_currency"` as a grammar with undefined rules;
    # lamina's grammar writes such values itself (lamina.models.grammar_bounds)
    spans = grounded_spans(['Sent 7, "from_currency": "EUR" to the tool', "a path C:\\temp now"])
    assert "Sent 7" in spans
    assert 'Sent 7, "from_currency' in spans
    assert "a path C:\\temp now" in spans
    schema = {"type": "object", "properties": {"v": {"type": "string", "enum": spans}}}
    compile_grammar(json_schema_grammar(schema))


def test_values_that_failed_are_not_offered_again() -> None:
    grounding = Grounding.from_texts(["What is the unit price of a melon?"])
    schema = {
        "type": "object",
        "properties": {"product": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["product"],
    }
    narrowed = grounding.narrow(schema, {"product": {"a melon"}})
    assert narrowed is not None
    assert "a melon" not in narrowed["properties"]["product"]["enum"]
    assert "melon" in narrowed["properties"]["product"]["enum"]
    assert "n" not in narrowed["properties"]  # no number was given: the optional one goes
    everything = set(grounding.spans)
    assert grounding.narrow(schema, {"product": everything}) is None


def test_every_punctuation_mark_makes_a_grammar_llama_cpp_can_parse() -> None:
    import string

    from lamina.models.grammar import compile_grammar

    words = [f"{c}x{c}" for c in string.punctuation if c not in '"\\']
    grounding = Grounding.from_texts([" ".join(words) + " costs 1.0 or 2,340 ^5 $3"])
    for own in (None, "^[A-Za-z+*/().,%^{}\\[\\] -]+$"):
        prop = {"type": "string", **({"pattern": own} if own else {})}
        narrowed = grounding.narrow({"type": "object", "properties": {"s": prop}}, {"s": {"?"}})
        assert narrowed is not None
        compile_grammar(json_schema_grammar(narrowed))


def test_spans_a_tools_error_listed_are_the_only_ones_offered_after_it() -> None:
    grounding = Grounding.from_texts(["What does the kettle cost in US dollars?"])
    schema = {"type": "object", "properties": {"product": {"type": "string"}}}
    # after product="the" failed with "... the catalogue has: kettle, toaster."
    narrowed = grounding.narrow(
        schema, {"product": {"the"}}, listed={"product": ["Kettle", "toaster"]}
    )
    assert narrowed is not None
    assert narrowed["properties"]["product"]["enum"] == ["kettle"]
    # a list that names none of the spans narrows nothing
    wide = grounding.narrow(schema, {"product": {"the"}}, listed={"product": ["toaster"]})
    assert wide is not None
    assert len(wide["properties"]["product"]["enum"]) > 5


def test_a_listed_value_the_request_writes_in_the_plural_is_offered_as_listed() -> None:
    grounding = Grounding.from_texts(["How many standing desks do we have in stock?"])
    schema = {"type": "object", "properties": {"product": {"type": "string"}}}
    listed = {"product": ["desk lamp", "standing desk", "webcam"]}
    narrowed = grounding.narrow(schema, {"product": {"we"}}, listed=listed)
    assert narrowed is not None
    assert narrowed["properties"]["product"]["enum"] == ["standing desk"]
    # "desk" alone is no listed value: nothing is made up from part of one
    lone = Grounding.from_texts(["How many desks do we have?"]).narrow(
        schema, {"product": {"we"}}, listed=listed
    )
    assert lone is not None
    assert "standing desk" not in lone["properties"]["product"]["enum"]


def test_a_count_of_things_is_no_quantity_in_a_unit() -> None:
    schema = {
        "type": "object",
        "properties": {"weight_kg": {"type": "number"}, "zone": {"type": "string"}},
        "required": ["weight_kg"],
    }
    counted = Grounding.from_texts(["We got an order for 40 water bottles. How many are left?"])
    assert counted.narrow(schema) is None  # 40 bottles are no weight: the tool is left out
    weighed = Grounding.from_texts(["Ship 40 water bottles, 12 kg in all, to the EU."])
    narrowed = weighed.narrow(schema)
    assert narrowed is not None
    assert narrowed["properties"]["weight_kg"]["enum"] == [12]
    # an argument without a unit still takes a count
    quantity = {"type": "object", "properties": {"quantity": {"type": "integer"}}}
    narrowed = counted.narrow(quantity)
    assert narrowed is not None
    assert narrowed["properties"]["quantity"]["enum"] == [40]
    # a real number that counts nothing is no count either: 3 desk lamps are no bill (SmolLM2
    # called add_tip(bill=3, tip_percent=20), ok); one that says it counts takes it
    lamps = Grounding.from_texts(["How much are 3 desk lamps with 20% tax?"])
    bill = {"type": "object", "properties": {"bill": {"type": "number"}}, "required": ["bill"]}
    assert lamps.narrow(bill) is None
    how_many = {
        "type": "object",
        "properties": {"n": {"type": "number", "description": "how many"}},
    }
    narrowed = lamps.narrow(how_many)
    assert narrowed is not None
    assert narrowed["properties"]["n"]["enum"] == [3]
    # nor is a length a number of days ("a 1,250 ft skyscraper" for `add_days(days=...)`)
    days = {"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]}
    assert Grounding.from_texts(["a 1,250 ft skyscraper"]).narrow(days) is None
    assert Grounding.from_texts(["in 1,250 days"]).narrow(days) is not None
    # "in 2020 and of Nice next year" counts no years
    assert Grounding.from_texts(["Lyon in 2020 and Nice next year?"]).counted == frozenset()


@pytest.mark.parametrize(
    ("error", "listed"),
    [
        ("ValueError: Unknown product 'the'; the catalogue has: kettle, toaster.",
         ["kettle", "toaster"]),
        ("No weather for 'x'; known cities: Lisbon, Oslo, Cairo.", ["Lisbon", "Oslo", "Cairo"]),
        ("Expected one of: 'red' or 'blue'", ["red", "blue"]),
        ("ValueError: Expected a date as YYYY-MM-DD, found ','.", []),
        ("ZeroDivisionError: division by zero", []),
    ],
)  # fmt: skip
def test_the_values_an_error_lists(error: str, listed: list[str]) -> None:
    from lamina.layers.execution.grounded_moves import listed_values

    assert listed_values(error) == listed


def test_a_date_given_in_words_is_offered_as_tools_take_dates() -> None:
    grounding = Grounding.from_texts(["How many days from Feb 14 2025 to September 1st 2025?"])
    schema = {"type": "object", "properties": {"end": {"type": "string"}}}
    narrowed = grounding.narrow(schema, {"end": {"2025-02-14"}})
    assert narrowed is not None
    offered = narrowed["properties"]["end"]["enum"]
    assert "2025-09-01" in offered
    assert "2025-02-14" not in offered  # it failed
    assert "2025-06-22" not in offered
    assert grounding.numbers == Grounding.from_texts(["Feb 14 2025 to September 1st 2025"]).numbers


def test_a_call_that_repeats_a_value_is_not_decoded_again_with_the_repeat() -> None:
    from lamina.layers.execution.calls import CallError
    from lamina.layers.execution.grounded_moves import failed_values

    failure = CallError("unused_input", "x", "14, 2025 is used twice while 1 is not used", "y")
    args = {"start": "2025-02-14", "end": "2025-02-14"}
    assert failed_values(args, failure) == {"end": "2025-02-14"}  # the start may stay
    other = CallError("tool_error", "x", "ValueError: Unknown city 'Pari'", "y")
    assert failed_values({"city": "Pari", "days": 2}, other) == {"city": "Pari"}


def test_a_date_argument_takes_only_a_date_that_was_given() -> None:
    grounding = Grounding.from_texts(
        ["How many days are there between June 1st 2025 and Christmas Day 2025?"]
    )
    schema = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "description": "the first date as YYYY-MM-DD."},
            "end": {"type": "string", "description": "the second date as YYYY-MM-DD."},
            "note": {"type": "string"},
        },
    }
    narrowed = grounding.narrow(schema)
    assert narrowed is not None
    # "between June 1st 2025" starts the period; the holiday's role is not read: either date
    assert narrowed["properties"]["start"]["enum"] == ["2025-06-01"]
    assert narrowed["properties"]["end"]["enum"] == ["2025-06-01", "2025-12-25"]
    assert "enum" not in narrowed["properties"]["note"]  # no date: its first move is free
    # no date given: a date argument has no value, and a tool that needs one cannot be called
    # ("how many days are in a week?" had filled `days_between` with "days are in a")
    undated = Grounding.from_texts(["how many days are in a week?"])
    optional = undated.narrow(schema)
    assert optional is not None
    assert set(optional["properties"]) == {"note"}
    assert undated.narrow({**schema, "required": ["start", "end"]}) is None


def test_what_the_thread_counted_is_no_quantity_in_a_unit() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from lamina.layers.execution.grounded_moves import given_texts

    asked = "What would all of them cost together?"
    state: dict[str, Any] = {
        "task": asked,
        "messages": [
            HumanMessage("How many standing desks do we have in stock?"),
            AIMessage("12"),
            HumanMessage(asked),
        ],
    }
    texts = given_texts(state, asked, [])  # type: ignore[arg-type]
    assert "12 standing desks" in texts
    weight = {"type": "object", "properties": {"weight_kg": {"type": "number"}}}
    assert Grounding.from_texts(texts).narrow({**weight, "required": ["weight_kg"]}) is None


def test_the_hundred_of_a_percentage_is_no_argument_of_its_own() -> None:
    schema = {"type": "object", "properties": {"percent": {"type": "number"}}}
    tipped = Grounding.from_texts(["Lunch came to 90 CHF. Add a 10% tip."]).narrow(schema)
    assert tipped is not None
    offered = tipped["properties"]["percent"]["enum"]
    assert 10 in offered
    assert 100 not in offered  # SmolLM2-135M called `tip(bill=90, percent=100)`
    # written, it is one (of an argument that is no percentage); arithmetic may divide by it
    amount = {
        "type": "object",
        "properties": {"amount": {"type": "number"}, **schema["properties"]},
    }
    written = Grounding.from_texts(["Add 10% to 100 EUR."]).narrow(amount)
    assert written is not None
    assert 100 in written["properties"]["amount"]["enum"]
    assert written["properties"]["percent"]["enum"] == [10]
    assert "100" in Grounding.from_texts(["Add a 10% tip."]).literals


def test_a_percentage_goes_only_to_an_argument_that_is_one() -> None:
    schema = {
        "type": "object",
        "properties": {
            "bill": {"type": "number"},
            "tip_percent": {"type": "number", "description": "the tip as a percentage."},
            "tax_rate": {"type": "number"},
        },
    }
    taxed = Grounding.from_texts(["How much is the desk lamp with 20% tax on top?"])
    narrowed = taxed.narrow(schema)
    assert narrowed is not None
    assert "bill" not in narrowed["properties"]  # neither 20 nor 0.2 is a bill
    assert narrowed["properties"]["tip_percent"]["enum"] == [20]
    assert narrowed["properties"]["tax_rate"]["enum"] == [0.2]
    # written as an amount too, it is one
    both = Grounding.from_texts(["A 20 EUR bill with a 20% tip."]).narrow(schema)
    assert both is not None
    assert 20 in both["properties"]["bill"]["enum"]
    # an argument that is a percentage takes no figure not written as one
    # (`add_tip(bill=96, tip_percent=96)` for "a third of 96")
    third = Grounding.from_texts(["how much is a third of 96?"]).narrow(schema)
    assert third is not None
    assert "tip_percent" not in third["properties"]
    assert third["properties"]["bill"]["enum"] == [96]


def test_a_step_lamina_added_is_grounded_in_its_own_figures() -> None:
    from lamina.layers.execution.grounded_moves import given_texts

    result = "Oslo: -3 °C, light snow, wind 9 km/h, humidity 85 %"
    step = "Convert -3 degrees celsius to degrees fahrenheit."
    plan = [
        {"index": 0, "instruction": "What is the temperature in Oslo in Fahrenheit?"},
        {"index": 1, "instruction": step, "added_for": "conversion"},
    ]
    state: dict[str, Any] = {
        "task": plan[0]["instruction"],
        "plan": plan,
        "step_index": 1,
        "step_results": [{"index": 0, "result": result}],
        "messages": [],
    }
    # offered the wind's 9 as well, SmolLM2-135M converted 9 °C (ok=True, wrong)
    assert Grounding.from_texts(given_texts(state, step, [])).numbers == (-3.0,)  # type: ignore[arg-type]
    planned = {**state, "plan": [plan[0], {**plan[1], "added_for": None}]}
    assert 9.0 in Grounding.from_texts(given_texts(planned, step, [])).numbers  # type: ignore[arg-type]


def test_a_conversion_takes_a_quantity_of_the_dimension_it_converts_into() -> None:
    schema = {
        "type": "object",
        "properties": {
            "value": {"type": "number"},
            "from_unit": {"type": "string"},
            "to_unit": {"type": "string"},
        },
        "required": ["value", "from_unit", "to_unit"],
    }
    given = ["What is it in Fahrenheit?", "Helsinki: -4 °C, cloudy, wind 9 km/h"]
    narrowed = Grounding.from_texts(given).narrow(schema)
    assert narrowed is not None
    # the wind's 9 km/h is no temperature (SmolLM2-135M converted 9, ok=True), and -4 is -4
    assert narrowed["properties"]["value"]["enum"] == [-4]
    # a tool that converts into no unit named takes every figure
    plain = {"type": "object", "properties": {"value": {"type": "number"}}}
    offered = Grounding.from_texts(given).narrow(plain)
    assert offered is not None
    assert offered["properties"]["value"]["enum"] == [-4, 9]


def test_the_parts_of_a_date_go_only_to_an_argument_named_for_them() -> None:
    # offered 2026 for `days` after "Calculate 2 * 7." gave 14, SmolLM2-135M took 2026
    given = Grounding.from_texts(
        ["Add 14 days to 2026-05-20.", "What day is 2 weeks after 2026-05-20?"]
    )
    assert given.date_parts == {2026.0, 5.0, 20.0}
    shift = {
        "type": "object",
        "properties": {"date": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["date", "days"],
    }
    narrowed = given.narrow(shift)
    assert narrowed is not None
    assert narrowed["properties"]["days"]["enum"] == [14]
    parts = {"type": "object", "properties": {"year": {"type": "integer"}}}
    by_part = given.narrow(parts)
    assert by_part is not None
    assert 2026 in by_part["properties"]["year"]["enum"]
    # a figure written outside the date too is a figure of its own
    twenty = Grounding.from_texts(["What date is 20 days after 2026-05-20?"])
    assert twenty.date_parts == {2026.0, 5.0}
    narrowed = twenty.narrow(shift)
    assert narrowed is not None
    assert narrowed["properties"]["days"]["enum"] == [20]
