"""The tasks of `bench/agent_tasks.py` and their strict checker.

76 requests in six categories, written the way people type them (informal, with units, product
and city names, dates in several forms), each with what a right run must show:

* `single` (18): one tool call answers it;
* `two_step` (22): two calls, the second taking the first's result as an argument;
* `three_step` (13): three calls, the last using what the earlier ones returned;
* `no_tool` (8): a plain question; the right behaviour is no tool call and an answer;
* `follow_up` (7): two turns in one thread, the second referring to the first answer;
* `extract` (8): a short text to summarise, or a figure/name/date to pull out of it.

Every expected number is computed by calling the tools themselves (`agent_tasks_tools`), never
typed by hand, except where the request itself gives it. A turn passes when:

* every expected number is among the numbers of its answer (1 % relative tolerance; thousands
  separators such as 1,416.00 are read as one number, a Unicode minus as a minus);
* every expected string is in the answer (case-insensitive; each may list alternatives);
* one of its call plans is matched by the calls the system made in that turn: each expected call
  by a distinct call of the same tool whose key arguments agree (numbers within 1 %, names and
  units as the tool itself resolves them, a calculator expression by its value, a text by its
  word count); further calls are allowed (they show in "mean calls");
* a `no_tool` turn made no call at all, and when it expects a number, that number is the last
  one the answer states (so "0 °C ... so about 100.0 Celsius" fails: it ends on a wrong claim);
* an answer about a pasted text (a summary, or a figure, name or date pulled out of it) is
  shorter than that text: repeating the text back is no answer, though it holds every figure.

A task passes when all its turns pass. The split is fixed: within each category every third task
(positions 1, 4, 7, ...) is `held_out` and the rest `dev`; the held-out part is reported, never
used for tuning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_tasks_tools import (
    add_days,
    add_tip,
    canonical_city,
    canonical_currency,
    canonical_date,
    canonical_product,
    canonical_unit,
    canonical_zone,
    convert_currency,
    convert_units,
    days_between,
    product_price,
    shipping_cost,
    stock_level,
    weather,
    word_count,
)
from langchain_core.tools import BaseTool

from lamina.tools.calculator import evaluate

__all__ = [
    "CATEGORIES",
    "SPLITS",
    "TASKS",
    "Call",
    "Task",
    "TaskCheck",
    "Turn",
    "check_task",
    "check_turn",
    "numbers_in",
]

CATEGORIES = ("single", "two_step", "three_step", "no_tool", "follow_up", "extract")
SPLITS = ("dev", "held_out")
TOLERANCE = 0.01


# -- task types ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """An expected tool call: the tool and the arguments that must agree."""

    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.name}({inner})"


@dataclass(frozen=True)
class Turn:
    """One user message and what the answer to it must show.

    Attributes:
        text: what the user sends.
        numbers: values the answer must state (1 % tolerance).
        strings: each entry a tuple of alternatives; one of them must be in the answer.
        plans: alternative call plans (each a tuple of expected calls); one must be matched.
            Empty: no call is required (but calls are allowed, unless `no_tool`).
        no_tool: the right behaviour is to make no tool call.
        source: the text pasted with the request (to summarise, or to answer a question about):
            the answer must be shorter than it.
    """

    text: str
    numbers: tuple[float, ...] = ()
    strings: tuple[tuple[str, ...], ...] = ()
    plans: tuple[tuple[Call, ...], ...] = ()
    no_tool: bool = False
    source: str | None = None


@dataclass(frozen=True)
class Task:
    id: str
    category: str
    turns: tuple[Turn, ...]
    split: str = "dev"


@dataclass(frozen=True)
class TaskCheck:
    passed: bool
    reasons: list[str] = field(default_factory=list)


# -- helpers to compute expectations with the tools ----------------------------------------
def run(t: BaseTool, **args: Any) -> Any:
    """The tool's own output for these arguments."""
    return t.invoke(args)


def tip_total(bill: float, percent: float) -> tuple[float, float]:
    """(tip, total) as `add_tip` reports them."""
    found = re.findall(r"[\d.]+", str(run(add_tip, bill=bill, tip_percent=percent)))
    return float(found[0]), float(found[1])


def temp_c(city: str) -> float:
    """The temperature `weather` reports for the city."""
    return float(str(run(weather, city=city)).split(": ")[1].split(" ")[0])


def iso_date(text: str) -> tuple[str, ...]:
    """Ways an answer may write the ISO date `text` (2025-05-11, May 11, 11 May, 11th of May)."""
    d = canonical_date(text)
    month = d.strftime("%B")
    return (
        d.isoformat(),
        f"{month} {d.day}",
        f"{d.day} {month}",
        f"{month} {d.day}{_ordinal(d.day)}",
        f"{d.day}{_ordinal(d.day)} {month}",
        f"{d.day}{_ordinal(d.day)} of {month}",
    )


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def plan(*calls: Call) -> tuple[Call, ...]:
    return tuple(calls)


def units(value: float, source: str, target: str) -> Call:
    return Call("convert_units", {"value": value, "from_unit": source, "to_unit": target})


def money(amount: float, source: str, target: str) -> Call:
    return Call(
        "convert_currency", {"amount": amount, "from_currency": source, "to_currency": target}
    )


def calc(value: float) -> Call:
    """A calculator call whose expression evaluates to `value`."""
    return Call("calculator", {"expression": value})


def price(product: str) -> Call:
    return Call("product_price", {"product": product})


def stock(product: str) -> Call:
    return Call("stock_level", {"product": product})


def weather_of(city: str) -> Call:
    return Call("weather", {"city": city})


def ship(weight: float, zone: str) -> Call:
    return Call("shipping_cost", {"weight_kg": weight, "zone": zone})


def tip(bill: float, percent: float) -> Call:
    return Call("add_tip", {"bill": bill, "tip_percent": percent})


def between(start: str, end: str) -> Call:
    return Call("days_between", {"start": start, "end": end})


def plus_days(date: str, days: int) -> Call:
    return Call("add_days", {"date": date, "days": days})


def count_words(text: str) -> Call:
    return Call("word_count", {"text": text})


def one(text: str, *calls: Call, numbers: Sequence[float] = (), **kw: Any) -> Turn:
    """A turn with one call plan."""
    return Turn(text, numbers=tuple(numbers), plans=(plan(*calls),) if calls else (), **kw)


# -- single tool --------------------------------------------------------------------------
SINGLE = [
    one(
        "how many km is 13.1 miles? training for a half marathon lol",
        units(13.1, "mi", "km"),
        numbers=[run(convert_units, value=13.1, from_unit="mi", to_unit="km")],
    ),
    one(
        "What's 250 euros in US dollars?",
        money(250, "EUR", "USD"),
        numbers=[run(convert_currency, amount=250, from_currency="EUR", to_currency="USD")],
    ),
    one(
        "Weather in Oslo right now?",
        weather_of("Oslo"),
        numbers=[temp_c("Oslo")],
        strings=(("snow",),),
    ),
    one(
        "How much does the standing desk cost?",
        price("standing desk"),
        numbers=[run(product_price, product="standing desk")],
    ),
    one(
        "can you check how many espresso machines we've got left",
        stock("espresso machine"),
        numbers=[run(stock_level, product="espresso machine")],
    ),
    one(
        "what's the date 90 days after 2025-02-10?",
        plus_days("2025-02-10", 90),
        strings=(iso_date(run(add_days, date="2025-02-10", days=90)),),
    ),
    one(
        "How many days are there between June 1st 2025 and Christmas Day 2025?",
        between("2025-06-01", "2025-12-25"),
        numbers=[run(days_between, start="2025-06-01", end="2025-12-25")],
    ),
    one(
        "Shipping a 3.2 kg parcel inside the country - how much is that?",
        ship(3.2, "domestic"),
        numbers=[run(shipping_cost, weight_kg=3.2, zone="domestic")],
    ),
    one(
        "Dinner came to 86.40. What's the total if I leave a 20% tip?",
        tip(86.4, 20),
        numbers=[tip_total(86.4, 20)[1]],
    ),
    one(
        "Count the words in this for me: The quick brown fox jumps over the lazy dog near the "
        "old river bank",
        count_words("The quick brown fox jumps over the lazy dog near the old river bank"),
        numbers=[
            run(
                word_count,
                text="The quick brown fox jumps over the lazy dog near the old river bank",
            )
        ],
    ),
    one("what is 17.5% of 2,340?", calc(0.175 * 2340), numbers=[0.175 * 2340]),
    one(
        "I weigh 172 lbs, what's that in kilos?",
        units(172, "lb", "kg"),
        numbers=[run(convert_units, value=172, from_unit="lb", to_unit="kg")],
    ),
    one(
        "Convert 5,000 yen to pounds sterling please",
        money(5000, "JPY", "GBP"),
        numbers=[run(convert_currency, amount=5000, from_currency="JPY", to_currency="GBP")],
    ),
    one(
        "Is it hot in Cairo today? What's the temperature?",
        weather_of("Cairo"),
        numbers=[temp_c("Cairo")],
    ),
    one("price check: webcam", price("webcam"), numbers=[run(product_price, product="webcam")]),
    one(
        "My thermometer says 98.6 °F. What is that in Celsius?",
        units(98.6, "F", "C"),
        numbers=[run(convert_units, value=98.6, from_unit="F", to_unit="C")],
    ),
    one(
        "I need to send a 12 kg box internationally, what will the shipping be?",
        ship(12, "world"),
        numbers=[run(shipping_cost, weight_kg=12, zone="world")],
    ),
    one("(1250 - 380) / 6 = ?", calc((1250 - 380) / 6), numbers=[(1250 - 380) / 6]),
]

# -- two steps ----------------------------------------------------------------------------
_lamp = run(product_price, product="desk lamp")
_denver = temp_c("Denver")
_box_kg = run(convert_units, value=9, from_unit="lb", to_unit="kg")
_weeks_days = run(days_between, start="2025-03-03", end="2025-08-18")
_chf_eur = run(convert_currency, amount=120, from_currency="CHF", to_currency="EUR")
_keyboard = run(product_price, product="mechanical keyboard")
_bottles = run(stock_level, product="water bottle")
_arrival = run(add_days, date="2025-11-20", days=18)
_bill = tip_total(240, 18)[1]
_run_mi = run(convert_units, value=5, from_unit="km", to_unit="mi")
_run_week_mi = run(convert_units, value=35, from_unit="km", to_unit="mi")
_case = run(product_price, product="phone case")
_tokyo = temp_c("Tokyo")
_suitcase = run(convert_units, value=50, from_unit="lb", to_unit="kg")
_overseas = run(shipping_cost, weight_kg=6, zone="world")
_SLOGAN = "Fresh bread baked every morning in the heart of the old town"
_slogan_words = run(word_count, text=_SLOGAN)
_coffee_g = run(convert_units, value=12, from_unit="oz", to_unit="g")
_webcam = run(product_price, product="webcam")
_salary_eur = run(convert_currency, amount=3200, from_currency="USD", to_currency="EUR")
_salary_year_eur = run(convert_currency, amount=3200 * 12, from_currency="USD", to_currency="EUR")
_berlin_f = run(convert_units, value=temp_c("Berlin"), from_unit="C", to_unit="F")
_sub_end = run(add_days, date="2024-11-15", days=180)
_eu_parcel = run(shipping_cost, weight_kg=2.4, zone="eu")
_everest_ft = run(convert_units, value=8849, from_unit="m", to_unit="ft")
_backpack = run(product_price, product="backpack")

TWO_STEP = [
    one(
        "What does the desk lamp cost in dollars?",
        price("desk lamp"),
        money(_lamp, "EUR", "USD"),
        numbers=[run(convert_currency, amount=_lamp, from_currency="EUR", to_currency="USD")],
    ),
    one(
        "what's the temperature in Denver in fahrenheit",
        weather_of("Denver"),
        units(_denver, "C", "F"),
        numbers=[run(convert_units, value=_denver, from_unit="C", to_unit="F")],
    ),
    one(
        "Got a 9 lb box to send within the EU. What's the shipping?",
        units(9, "lb", "kg"),
        ship(_box_kg, "eu"),
        numbers=[run(shipping_cost, weight_kg=_box_kg, zone="eu")],
    ),
    one(
        "How many weeks are there between 3 March 2025 and 18 August 2025?",
        between("2025-03-03", "2025-08-18"),
        calc(_weeks_days / 7),
        numbers=[_weeks_days / 7],
    ),
    one(
        "The restaurant bill is 120 CHF. Convert it to euros and then work out the total with "
        "a 15% tip.",
        money(120, "CHF", "EUR"),
        tip(_chf_eur, 15),
        numbers=[tip_total(_chf_eur, 15)[1]],
    ),
    one(
        "If I buy 3 mechanical keyboards, how much is that altogether?",
        price("mechanical keyboard"),
        calc(_keyboard * 3),
        numbers=[_keyboard * 3],
    ),
    one(
        "We just got an order for 40 water bottles. How many will be left in stock once it ships?",
        stock("water bottle"),
        calc(_bottles - 40),
        numbers=[_bottles - 40],
    ),
    one(
        "My parcel ships on 2025-11-20 and takes 18 days. How many days after it arrives is "
        "New Year's Day 2026?",
        plus_days("2025-11-20", 18),
        between(_arrival, "2026-01-01"),
        numbers=[run(days_between, start=_arrival, end="2026-01-01")],
    ),
    one(
        "We're splitting a 240 dollar bill four ways and tipping 18%. How much does each of us "
        "pay?",
        tip(240, 18),
        calc(_bill / 4),
        numbers=[_bill / 4],
    ),
    Turn(
        "I run 5 km every day. How many miles is that in a week?",
        numbers=(_run_week_mi,),
        plans=(
            plan(units(5, "km", "mi"), calc(_run_mi * 7)),
            plan(calc(35), units(35, "km", "mi")),
        ),
    ),
    one(
        "How much is the phone case in Australian dollars?",
        price("phone case"),
        money(_case, "EUR", "AUD"),
        numbers=[run(convert_currency, amount=_case, from_currency="EUR", to_currency="AUD")],
    ),
    one(
        "tokyo weather, but give me the temperature in kelvin",
        weather_of("Tokyo"),
        units(_tokyo, "C", "K"),
        numbers=[run(convert_units, value=_tokyo, from_unit="C", to_unit="K")],
    ),
    one(
        "My suitcase weighs 50 pounds. How much to ship it domestically?",
        units(50, "lb", "kg"),
        ship(_suitcase, "domestic"),
        numbers=[run(shipping_cost, weight_kg=_suitcase, zone="domestic")],
    ),
    one(
        "What's shipping for a 6 kg parcel overseas, in US dollars?",
        ship(6, "world"),
        money(_overseas, "EUR", "USD"),
        numbers=[run(convert_currency, amount=_overseas, from_currency="EUR", to_currency="USD")],
    ),
    one(
        f"A translator charges 0.12 euros per word. What would this cost: '{_SLOGAN}'",
        count_words(_SLOGAN),
        calc(_slogan_words * 0.12),
        numbers=[_slogan_words * 0.12],
    ),
    Turn(
        "A bag of my coffee is 12 oz. How many grams are in 4 bags?",
        numbers=(_coffee_g * 4,),
        plans=(
            plan(units(12, "oz", "g"), calc(_coffee_g * 4)),
            plan(calc(48), units(48, "oz", "g")),
        ),
    ),
    one(
        "What would the webcam cost with 25% off?",
        price("webcam"),
        calc(_webcam * 0.75),
        numbers=[_webcam * 0.75],
    ),
    Turn(
        "I'm paid 3,200 USD a month. What's that per year in euros?",
        numbers=(_salary_year_eur,),
        plans=(
            plan(calc(3200 * 12), money(3200 * 12, "USD", "EUR")),
            plan(money(3200, "USD", "EUR"), calc(_salary_eur * 12)),
        ),
    ),
    one(
        "Is it above 50 Fahrenheit in Berlin right now?",
        weather_of("Berlin"),
        units(temp_c("Berlin"), "C", "F"),
        numbers=[_berlin_f],
        strings=(("yes",),),
    ),
    Turn(
        "My subscription started on 2024-11-15 and runs for 180 days. How many days does it "
        "still have left on 1 March 2025?",
        numbers=(run(days_between, start="2025-03-01", end=_sub_end),),
        plans=(
            plan(plus_days("2024-11-15", 180), between("2025-03-01", _sub_end)),
            # the days gone, taken from the 180: the same figure by another way
            plan(
                between("2024-11-15", "2025-03-01"),
                calc(180 - run(days_between, start="2024-11-15", end="2025-03-01")),
            ),
        ),
    ),
    one(
        "How much does it cost to send a 2.4 kg parcel to the EU, in pounds sterling?",
        ship(2.4, "eu"),
        money(_eu_parcel, "EUR", "GBP"),
        numbers=[run(convert_currency, amount=_eu_parcel, from_currency="EUR", to_currency="GBP")],
    ),
    one(
        "Everest is 8,849 m high. In feet, how many times taller is it than a 1,250 ft skyscraper?",
        units(8849, "m", "ft"),
        calc(_everest_ft / 1250),
        numbers=[_everest_ft / 1250],
    ),
]

# -- three steps --------------------------------------------------------------------------
_espresso_n = run(stock_level, product="espresso machine")
_espresso_p = run(product_price, product="espresso machine")
_parcel_kg = run(convert_units, value=7, from_unit="lb", to_unit="kg")
_parcel_eur = run(shipping_cost, weight_kg=_parcel_kg, zone="world")
_dinner_total = tip_total(_chf_eur, 15)[1]
_lamps_eur = _lamp * 4
_lamp_usd = run(convert_currency, amount=_lamp, from_currency="EUR", to_currency="USD")
_cairo_f = run(convert_units, value=temp_c("Cairo"), from_unit="C", to_unit="F")
_eu_small = run(shipping_cost, weight_kg=2.5, zone="eu")
_order_arrival = run(add_days, date="2025-10-06", days=12)
_order_days = run(days_between, start=_order_arrival, end="2026-02-02")
_headphones_n = run(stock_level, product="noise-cancelling headphones")
_headphones_p = run(product_price, product="noise-cancelling headphones")
_pkg_kg = run(convert_units, value=44, from_unit="oz", to_unit="kg")
_pkg_ship = run(shipping_cost, weight_kg=_pkg_kg, zone="domestic")
_AD = "Brand new mountain bike, barely used, comes with lights and a lock, pickup only"
_ad_words = run(word_count, text=_AD)
_ad_usd = _ad_words * 0.35
_webcams_eur = _webcam * 3
_webcam_jpy = run(convert_currency, amount=_webcam, from_currency="EUR", to_currency="JPY")
_monitor_n = run(stock_level, product="monitor")
_monitor_p = run(product_price, product="monitor")

THREE_STEP = [
    one(
        "I want to buy every espresso machine you have in stock. What's the total cost?",
        stock("espresso machine"),
        price("espresso machine"),
        calc(_espresso_n * _espresso_p),
        numbers=[_espresso_n * _espresso_p],
    ),
    one(
        "Parcel weighs 7 lbs and it's going international. What's the shipping in dollars?",
        units(7, "lb", "kg"),
        ship(_parcel_kg, "world"),
        money(_parcel_eur, "EUR", "USD"),
        numbers=[run(convert_currency, amount=_parcel_eur, from_currency="EUR", to_currency="USD")],
    ),
    Turn(
        "Dinner for four came to 120 CHF. Turn that into euros, add a 15% tip, and tell me what "
        "each of us owes.",
        numbers=(_dinner_total / 4,),
        plans=(
            plan(money(120, "CHF", "EUR"), tip(_chf_eur, 15), calc(_dinner_total / 4)),
            # tipped in francs, then converted: the same figure, a conversion being linear
            plan(
                tip(120, 15),
                money(tip_total(120, 15)[1], "CHF", "EUR"),
                calc(_dinner_total / 4),
            ),
        ),
    ),
    one(
        "How much colder is it in Reykjavik than in Nairobi right now, in degrees C?",
        weather_of("Reykjavik"),
        weather_of("Nairobi"),
        calc(temp_c("Nairobi") - temp_c("Reykjavik")),
        numbers=[temp_c("Nairobi") - temp_c("Reykjavik")],
    ),
    Turn(
        "4 desk lamps, what's that going to be in US dollars?",
        numbers=(run(convert_currency, amount=_lamps_eur, from_currency="EUR", to_currency="USD"),),
        plans=(
            plan(price("desk lamp"), calc(_lamps_eur), money(_lamps_eur, "EUR", "USD")),
            plan(price("desk lamp"), money(_lamp, "EUR", "USD"), calc(_lamp_usd * 4)),
        ),
    ),
    one(
        "What's Cairo's temperature in Fahrenheit, and how far is that below 100 F?",
        weather_of("Cairo"),
        units(temp_c("Cairo"), "C", "F"),
        calc(100 - _cairo_f),
        numbers=[_cairo_f, 100 - _cairo_f],
    ),
    one(
        "Ship a 2.5 kg parcel within the EU and put a phone case in the order too. What's the "
        "total?",
        ship(2.5, "eu"),
        price("phone case"),
        calc(_eu_small + _case),
        numbers=[_eu_small + _case],
    ),
    one(
        "An order placed on 2025-10-06 arrives 12 days later. How many weeks are there from the "
        "day it arrives until 2 February 2026?",
        plus_days("2025-10-06", 12),
        between(_order_arrival, "2026-02-02"),
        calc(_order_days / 7),
        numbers=[_order_days / 7],
    ),
    one(
        "What's the total value of our noise-cancelling headphones in stock (units x price)?",
        stock("noise-cancelling headphones"),
        price("noise-cancelling headphones"),
        calc(_headphones_n * _headphones_p),
        numbers=[_headphones_n * _headphones_p],
    ),
    one(
        "My package is 44 oz. What does it cost to send it domestic, with 20% tax on top?",
        units(44, "oz", "kg"),
        ship(_pkg_kg, "domestic"),
        calc(_pkg_ship * 1.2),
        numbers=[_pkg_ship * 1.2],
    ),
    one(
        f"Classifieds charge 0.35 USD per word. How much is this ad in euros? '{_AD}'",
        count_words(_AD),
        calc(_ad_usd),
        money(_ad_usd, "USD", "EUR"),
        numbers=[run(convert_currency, amount=_ad_usd, from_currency="USD", to_currency="EUR")],
    ),
    Turn(
        "how much would 3 webcams set me back in yen",
        numbers=(
            run(convert_currency, amount=_webcams_eur, from_currency="EUR", to_currency="JPY"),
        ),
        plans=(
            plan(price("webcam"), calc(_webcams_eur), money(_webcams_eur, "EUR", "JPY")),
            plan(price("webcam"), money(_webcam, "EUR", "JPY"), calc(_webcam_jpy * 3)),
        ),
    ),
    one(
        "If we sold all the monitors in the warehouse at list price, how much money would that "
        "bring in?",
        stock("monitor"),
        price("monitor"),
        calc(_monitor_n * _monitor_p),
        numbers=[_monitor_n * _monitor_p],
    ),
]

# -- no tool ------------------------------------------------------------------------------
NO_TOOL = [
    Turn("Hey! What's the capital of France?", strings=(("paris",),), no_tool=True),
    Turn("how many days are in a week?", numbers=(7,), no_tool=True),
    Turn(
        "What colour do you get if you mix blue and yellow paint?",
        strings=(("green",),),
        no_tool=True,
    ),
    Turn("Thanks, that's all for now!", no_tool=True),
    Turn("Who wrote Romeo and Juliet?", strings=(("shakespeare",),), no_tool=True),
    Turn(
        "What does the abbreviation 'km' stand for?",
        strings=(("kilometre", "kilometer"),),
        no_tool=True,
    ),
    Turn("At what temperature does water freeze, in Celsius?", numbers=(0,), no_tool=True),
    Turn(
        "Can you explain in one line what a noun is?",
        strings=(("person", "place", "thing", "name"),),
        no_tool=True,
    ),
]

# -- follow-up turns ----------------------------------------------------------------------
_bottle = run(product_price, product="water bottle")
_lisbon = temp_c("Lisbon")
_valentine = run(days_between, start="2025-02-14", end="2025-09-01")
_km_mi = run(convert_units, value=42, from_unit="km", to_unit="mi")
_check = tip_total(64, 15)
_desks = run(stock_level, product="standing desk")
_desk = run(product_price, product="standing desk")
_usd_eur = run(convert_currency, amount=300, from_currency="USD", to_currency="EUR")

FOLLOW_UP = [
    (
        one("How much is a water bottle?", price("water bottle"), numbers=[_bottle]),
        one("and what is that plus 10?", calc(_bottle + 10), numbers=[_bottle + 10]),
    ),
    (
        one("What's the weather like in Lisbon?", weather_of("Lisbon"), numbers=[_lisbon]),
        one(
            "What's that in Fahrenheit?",
            units(_lisbon, "C", "F"),
            numbers=[run(convert_units, value=_lisbon, from_unit="C", to_unit="F")],
        ),
    ),
    (
        one(
            "How many days from Valentine's Day 2025 (Feb 14) to September 1st 2025?",
            between("2025-02-14", "2025-09-01"),
            numbers=[_valentine],
        ),
        one("ok and how many weeks is that", calc(_valentine / 7), numbers=[_valentine / 7]),
    ),
    (
        one("Convert 42 km to miles", units(42, "km", "mi"), numbers=[_km_mi]),
        Turn(
            "and in feet?",
            numbers=(run(convert_units, value=42, from_unit="km", to_unit="ft"),),
            plans=((units(42, "km", "ft"),), (units(_km_mi, "mi", "ft"),)),
        ),
    ),
    (
        one("What's a 15% tip on a 64 dollar check?", tip(64, 15), numbers=[_check[0]]),
        one("Split the total 3 ways for me", calc(_check[1] / 3), numbers=[_check[1] / 3]),
    ),
    (
        one(
            "How many standing desks do we have in stock?",
            stock("standing desk"),
            numbers=[_desks],
        ),
        one(
            "What would all of them cost together?",
            price("standing desk"),
            calc(_desks * _desk),
            numbers=[_desks * _desk],
        ),
    ),
    (
        one("Convert 300 dollars to euros", money(300, "USD", "EUR"), numbers=[_usd_eur]),
        Turn(
            "and how much is that in yen?",
            numbers=(
                run(convert_currency, amount=_usd_eur, from_currency="EUR", to_currency="JPY"),
            ),
            plans=((money(_usd_eur, "EUR", "JPY"),), (money(300, "USD", "JPY"),)),
        ),
    ),
]

# -- summarise / extract ------------------------------------------------------------------
_EMAIL = (
    "Hi team, my order #A-20931 arrived yesterday but the box was crushed and the lamp inside "
    "is cracked. I paid 34.90 for it. Could you send a replacement to my new address, "
    "12 Harbour Lane, Cork? Thanks, Declan"
)
_INVOICE = (
    "Invoice 2291 from Brightside Studio to Kettle & Co. Design work for the spring campaign: "
    "subtotal 1,180.00 EUR, VAT (20%) 236.00 EUR, total due 1,416.00 EUR. Payment within 30 "
    "days by bank transfer; late payments incur a 2% monthly fee."
)
_MEETING = (
    "Quick recap of Tuesday's meeting: we agreed to push the website launch from the 3rd to "
    "Friday the 13th because the payment page still fails on mobile. Maria will fix the "
    "payment bug, Tom handles the press release, and the marketing budget stays at 15,000 "
    "euros. Next check-in is Thursday at 10."
)
_PEOPLE = (
    "After eleven years at the company, Martin Okafor is retiring at the end of the month. "
    "His role as head of logistics goes to Priya Raman, who has run the Rotterdam warehouse "
    "since 2019. Jonas Weber takes over Rotterdam from her."
)
_REVIEW = (
    "I've had this phone for three weeks now. The screen is gorgeous and bright even outside, "
    "and the camera is better than my old one. But the battery barely lasts a day and it gets "
    "warm when charging. For the price I expected better battery life."
)
_DEADLINE = (
    "Reminder to all contributors: chapter drafts are due on March 28 so the editors have two "
    "weeks before the printer slot. Late drafts will move to the autumn edition. Questions go "
    "to Ines."
)
_NEWS = (
    "The Old Mill bridge will be closed to all traffic for two weeks starting Monday while "
    "engineers replace its worn bearings. Buses will divert via Station Road, adding about ten "
    "minutes to journeys, and a temporary footbridge will stay open for pedestrians."
)
_EVENT = (
    "This year's city half marathon drew 1,240 runners, up from 980 last year. The winner, "
    "Aisha Bello, finished in 1:09:42. Organisers raised 18,500 euros for the children's "
    "hospital."
)

EXTRACT = [
    Turn(
        f"Customer email below. What's the order number?\n\n{_EMAIL}",
        strings=(("A-20931",),),
        source=_EMAIL,
    ),
    Turn(
        f"What's the total due on this invoice?\n\n{_INVOICE}",
        numbers=(1416.0,),
        source=_INVOICE,
    ),
    Turn(
        f"Summarise these notes in a sentence or two:\n\n{_MEETING}",
        strings=(("launch",), ("friday", "13"), ("maria",), ("payment",)),
        source=_MEETING,
    ),
    Turn(
        f"Who is the new head of logistics?\n\n{_PEOPLE}",
        strings=(("priya raman",),),
        source=_PEOPLE,
    ),
    Turn(
        f"tl;dr this review please:\n\n{_REVIEW}",
        strings=(("screen",), ("battery",)),
        source=_REVIEW,
    ),
    Turn(
        f"When's the deadline for the drafts?\n\n{_DEADLINE}",
        strings=(("march 28", "28 march", "28th of march", "march 28th", "03-28"),),
        source=_DEADLINE,
    ),
    Turn(
        f"Give me a short summary of this:\n\n{_NEWS}",
        strings=(("bridge",), ("closed", "closure", "shut"), ("two weeks", "2 weeks", "14 days")),
        source=_NEWS,
    ),
    Turn(
        f"How many runners took part this year?\n\n{_EVENT}",
        numbers=(1240.0,),
        source=_EVENT,
    ),
]


def _assemble() -> list[Task]:
    groups: list[tuple[str, list[tuple[Turn, ...]]]] = [
        ("single", [(t,) for t in SINGLE]),
        ("two_step", [(t,) for t in TWO_STEP]),
        ("three_step", [(t,) for t in THREE_STEP]),
        ("no_tool", [(t,) for t in NO_TOOL]),
        ("follow_up", [tuple(pair) for pair in FOLLOW_UP]),
        ("extract", [(t,) for t in EXTRACT]),
    ]
    tasks = []
    for category, turns_list in groups:
        for i, turns in enumerate(turns_list):
            split = "held_out" if i % 3 == 1 else "dev"
            tasks.append(Task(f"{category}-{i + 1:02d}", category, turns, split))
    return tasks


TASKS: list[Task] = _assemble()


# -- checking -----------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def numbers_in(text: str) -> list[float]:
    """Every number in `text`; "1,416.00" is one number, "−3" (Unicode minus) is negative."""
    cleaned = text.replace("−", "-").replace("\u2009", "").replace("\u202f", "")
    return [float(m.group().replace(",", "")) for m in _NUMBER.finditer(cleaned)]


def close(found: float, expected: float) -> bool:
    """Within 1 % of `expected` (an absolute 0.01 around zero)."""
    if expected == 0:
        return abs(found) <= 0.01
    return abs(found - expected) <= TOLERANCE * abs(expected)


def _same(canon: Callable[[str], Any]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        try:
            return bool(canon(str(actual)) == canon(str(expected)))
        except ValueError:
            return False

    return compare


def _number(actual: Any, expected: Any) -> bool:
    try:
        value = float(str(actual).replace(",", ""))
    except ValueError:
        return False
    return math.isfinite(value) and close(value, float(expected))


def _expression(actual: Any, expected: Any) -> bool:
    try:
        value = float(evaluate(str(actual)))
    except Exception:  # any refusal of the calculator: not this value
        return False
    return close(value, float(expected))


def _word_total(actual: Any, expected: Any) -> bool:
    return len(str(actual).split()) == len(str(expected).split())


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "from_unit": _same(canonical_unit),
    "to_unit": _same(canonical_unit),
    "from_currency": _same(canonical_currency),
    "to_currency": _same(canonical_currency),
    "zone": _same(canonical_zone),
    "product": _same(canonical_product),
    "city": _same(canonical_city),
    "date": _same(canonical_date),
    "start": _same(canonical_date),
    "end": _same(canonical_date),
    "expression": _expression,
    "text": _word_total,
}


def call_matches(actual: dict[str, Any], expected: Call) -> bool:
    """Whether a made call (`{"name", "args"}`) is the expected one."""
    if actual.get("name") != expected.name:
        return False
    args = actual.get("args")
    if not isinstance(args, dict):
        return False
    for key, want in expected.args.items():
        if key not in args:
            return False
        compare = _COMPARE.get(key, _number)
        if not compare(args[key], want):
            return False
    return True


def plan_matched(calls: Sequence[dict[str, Any]], expected: Sequence[Call]) -> bool:
    """Each expected call matched by a distinct made call (any order)."""

    def assign(i: int, used: frozenset[int]) -> bool:
        if i == len(expected):
            return True
        return any(
            j not in used and call_matches(c, expected[i]) and assign(i + 1, used | {j})
            for j, c in enumerate(calls)
        )

    return assign(0, frozenset())


def check_turn(turn: Turn, answer: str, calls: Sequence[dict[str, Any]]) -> list[str]:
    """Why the turn failed (an empty list when it passed)."""
    reasons = []
    if turn.no_tool and calls:
        reasons.append(f"expected no tool call, found {[c['name'] for c in calls]}")
    if turn.plans and not any(plan_matched(calls, p) for p in turn.plans):
        wanted = " or ".join("[" + ", ".join(map(str, p)) + "]" for p in turn.plans)
        reasons.append(f"expected calls {wanted}")
    found = numbers_in(answer)
    for value in turn.numbers:
        if not any(close(f, value) for f in found):
            reasons.append(f"expected {value:g} in the answer")
    if (
        turn.no_tool
        and turn.numbers
        and found
        and not any(close(found[-1], v) for v in turn.numbers)
    ):
        reasons.append(f"the answer ends on {found[-1]:g}, not on the expected figure")
    lowered = answer.lower()
    for alternatives in turn.strings:
        if not any(a.lower() in lowered for a in alternatives):
            reasons.append(f"expected {' or '.join(map(repr, alternatives))} in the answer")
    if turn.source is not None and len(answer.strip()) >= len(turn.source):
        reasons.append(f"answer of {len(answer.strip())} chars, not shorter than the pasted text")
    if not answer.strip():
        reasons.append("empty answer")
    return reasons


def check_task(
    task: Task, answers: Sequence[str], calls: Sequence[Sequence[dict[str, Any]]]
) -> TaskCheck:
    """Check every turn (answers and calls given per turn; missing turns fail)."""
    reasons: list[str] = []
    for i, turn in enumerate(task.turns):
        if i >= len(answers):
            reasons.append(f"turn {i + 1}: not run")
            continue
        reasons += [f"turn {i + 1}: {r}" for r in check_turn(turn, answers[i], calls[i])]
    return TaskCheck(passed=not reasons, reasons=reasons)
