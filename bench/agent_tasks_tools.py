"""The tools of `bench/agent_tasks.py`: ten deterministic tools over small fixed tables.

No tool reads the network or the clock, so a task's expected answer can be computed by calling
the tools themselves (`agent_tasks_suite.py` does). Each table-backed tool accepts the usual
spellings a person or a model writes ("lbs", "pounds", "€", "usb c cable"); the `canonical_*`
helpers that resolve them are what the checker uses to compare a model's arguments, so an
argument counts as right exactly when the tool would have read it right.

Tools: `convert_units`, `convert_currency`, `shipping_cost`, `product_price`, `stock_level`,
`weather`, `add_days`, `days_between`, `add_tip`, `word_count`; with lamina's built-in
`calculator` they make `ALL_TOOLS`, the tool set every task is given.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from langchain_core.tools import BaseTool

from lamina import tool
from lamina.tools.calculator import calculator

__all__ = [
    "ALL_TOOLS",
    "CATALOGUE",
    "RATES_PER_EUR",
    "WEATHER",
    "add_days",
    "add_tip",
    "canonical_city",
    "canonical_currency",
    "canonical_date",
    "canonical_product",
    "canonical_unit",
    "canonical_zone",
    "convert_currency",
    "convert_units",
    "days_between",
    "product_price",
    "run_tool",
    "shipping_cost",
    "stock_level",
    "weather",
    "word_count",
]

# -- units --------------------------------------------------------------------------------
# unit -> (dimension, factor to the dimension's base unit); temperatures are handled apart.
_UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "cm": ("length", 0.01),
    "mm": ("length", 0.001),
    "mi": ("length", 1609.344),
    "yd": ("length", 0.9144),
    "ft": ("length", 0.3048),
    "in": ("length", 0.0254),
    "kg": ("mass", 1.0),
    "g": ("mass", 0.001),
    "lb": ("mass", 0.45359237),
    "oz": ("mass", 0.028349523125),
    "l": ("volume", 1.0),
    "ml": ("volume", 0.001),
    "gal": ("volume", 3.785411784),
    "c": ("temperature", 1.0),
    "f": ("temperature", 1.0),
    "k": ("temperature", 1.0),
}
_UNIT_ALIASES: dict[str, str] = {
    "meter": "m",
    "metre": "m",
    "kilometer": "km",
    "kilometre": "km",
    "centimeter": "cm",
    "centimetre": "cm",
    "millimeter": "mm",
    "millimetre": "mm",
    "mile": "mi",
    "yard": "yd",
    "foot": "ft",
    "feet": "ft",
    "inch": "in",
    "inche": "in",
    "kilogram": "kg",
    "kilo": "kg",
    "kgs": "kg",
    "gram": "g",
    "gr": "g",
    "pound": "lb",
    "lbs": "lb",
    "ounce": "oz",
    "liter": "l",
    "litre": "l",
    "milliliter": "ml",
    "millilitre": "ml",
    "gallon": "gal",
    "celsius": "c",
    "centigrade": "c",
    "degc": "c",
    "fahrenheit": "f",
    "degf": "f",
    "kelvin": "k",
}


def canonical_unit(unit: str) -> str:
    """The unit's short name (`"km"`, `"lb"`, `"c"`), or raise `ValueError` naming known ones."""
    text = unit.strip().lower().replace("°", "").replace("degrees ", "deg").replace(" ", "")
    if text in _UNITS:
        return text
    for candidate in (text, text.removesuffix("s"), text.removesuffix("es")):
        if candidate in _UNIT_ALIASES:
            return _UNIT_ALIASES[candidate]
        if candidate in _UNITS:
            return candidate
    raise ValueError(f"Unknown unit {unit!r}; known: {', '.join(_UNITS)}.")


def _to_kelvin(value: float, unit: str) -> float:
    if unit == "c":
        return value + 273.15
    if unit == "f":
        return (value - 32.0) * 5.0 / 9.0 + 273.15
    return value


def _from_kelvin(value: float, unit: str) -> float:
    if unit == "c":
        return value - 273.15
    if unit == "f":
        return (value - 273.15) * 9.0 / 5.0 + 32.0
    return value


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length, weight, volume or temperature from one unit to another.

    Args:
        value: the amount to convert.
        from_unit: the unit of the amount, e.g. km, mi, m, ft, in, kg, lb, oz, g, l, gal, C, F, K.
        to_unit: the unit wanted.
    """
    source, target = canonical_unit(from_unit), canonical_unit(to_unit)
    (dim_a, factor_a), (dim_b, factor_b) = _UNITS[source], _UNITS[target]
    if dim_a != dim_b:
        raise ValueError(f"Cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit}).")
    if dim_a == "temperature":
        return round(_from_kelvin(_to_kelvin(value, source), target), 3)
    return round(value * factor_a / factor_b, 3)


# -- currencies ---------------------------------------------------------------------------
RATES_PER_EUR: dict[str, float] = {
    "EUR": 1.0,
    "USD": 1.08,
    "GBP": 0.85,
    "JPY": 162.0,
    "CHF": 0.95,
    "CAD": 1.47,
    "AUD": 1.65,
    "SEK": 11.4,
    "INR": 90.0,
    "MXN": 18.5,
}
_CURRENCY_ALIASES: dict[str, str] = {
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "us$": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "usdollars": "USD",
    "usdollar": "USD",
    "£": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "poundsterling": "GBP",
    "poundssterling": "GBP",
    "sterling": "GBP",
    "¥": "JPY",
    "yen": "JPY",
    "swissfranc": "CHF",
    "swissfrancs": "CHF",
    "franc": "CHF",
    "francs": "CHF",
    "canadiandollar": "CAD",
    "canadiandollars": "CAD",
    "australiandollar": "AUD",
    "australiandollars": "AUD",
    "krona": "SEK",
    "kronor": "SEK",
    "swedishkrona": "SEK",
    "swedishkronor": "SEK",
    "rupee": "INR",
    "rupees": "INR",
    "peso": "MXN",
    "pesos": "MXN",
}


def canonical_currency(currency: str) -> str:
    """The ISO code of a currency name or symbol, or raise `ValueError` naming the known ones."""
    text = currency.strip()
    if text.upper() in RATES_PER_EUR:
        return text.upper()
    key = text.lower().replace(" ", "").replace(".", "")
    if key in _CURRENCY_ALIASES:
        return _CURRENCY_ALIASES[key]
    raise ValueError(f"Unknown currency {currency!r}; known: {', '.join(RATES_PER_EUR)}.")


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> float:
    """Convert money between currencies at today's fixed exchange rates.

    Args:
        amount: the amount of money.
        from_currency: its currency code, e.g. EUR, USD, GBP, JPY, CHF, CAD, AUD, SEK, INR, MXN.
        to_currency: the currency code wanted.
    """
    source, target = canonical_currency(from_currency), canonical_currency(to_currency)
    return round(amount / RATES_PER_EUR[source] * RATES_PER_EUR[target], 2)


# -- shipping -----------------------------------------------------------------------------
# zone -> (base fee, fee per kg), in euros
_ZONES: dict[str, tuple[float, float]] = {
    "domestic": (4.90, 1.10),
    "eu": (8.50, 2.40),
    "world": (15.00, 4.75),
}
_ZONE_ALIASES: dict[str, str] = {
    "national": "domestic",
    "local": "domestic",
    "home": "domestic",
    "inland": "domestic",
    "europe": "eu",
    "european union": "eu",
    "international": "world",
    "worldwide": "world",
    "overseas": "world",
    "rest of world": "world",
    "rest of the world": "world",
    "abroad": "world",
}


def canonical_zone(zone: str) -> str:
    """`domestic`, `eu` or `world` for a zone name, or raise `ValueError`."""
    text = zone.strip().lower()
    if text in _ZONES:
        return text
    if text in _ZONE_ALIASES:
        return _ZONE_ALIASES[text]
    raise ValueError(f"Unknown shipping zone {zone!r}; known: {', '.join(_ZONES)}.")


@tool
def shipping_cost(weight_kg: float, zone: str) -> float:
    """Price in euros of shipping one parcel.

    Args:
        weight_kg: the parcel's weight in kilograms.
        zone: where it goes: domestic, eu or world.
    """
    if weight_kg <= 0:
        raise ValueError(f"Expected a positive weight in kg, found {weight_kg}.")
    base, per_kg = _ZONES[canonical_zone(zone)]
    return round(base + per_kg * weight_kg, 2)


# -- the shop's catalogue -----------------------------------------------------------------
# product -> (price in euros, units in stock)
CATALOGUE: dict[str, tuple[float, int]] = {
    "wireless mouse": (24.99, 138),
    "mechanical keyboard": (89.0, 42),
    "usb-c cable": (9.5, 610),
    "desk lamp": (34.9, 75),
    "standing desk": (399.0, 12),
    "noise-cancelling headphones": (179.0, 27),
    "espresso machine": (249.0, 9),
    "phone case": (15.0, 320),
    "water bottle": (18.75, 254),
    "backpack": (59.9, 66),
    "webcam": (64.5, 31),
    "monitor": (219.0, 18),
}


def _words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]


def canonical_product(product: str) -> str:
    """The catalogue's name of a product ("Keyboards" → "mechanical keyboard"), or raise
    `ValueError` listing the catalogue."""
    wanted = _words(product)
    if not wanted:
        raise ValueError(f"Expected a product name, found {product!r}.")
    joined = "".join(wanted)
    for name in CATALOGUE:
        if "".join(_words(name)) == joined:
            return name
    matches = [name for name in CATALOGUE if set(wanted) <= set(_words(name))]
    if len(matches) == 1:
        return matches[0]
    matches = [name for name in CATALOGUE if set(_words(name)) <= set(wanted)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"Unknown product {product!r}; the catalogue has: {', '.join(CATALOGUE)}.")


@tool
def product_price(product: str) -> float:
    """Look up the unit price in euros of a product in our shop.

    Args:
        product: the product's name, e.g. desk lamp.
    """
    return CATALOGUE[canonical_product(product)][0]


@tool
def stock_level(product: str) -> int:
    """How many units of a product are in stock in our warehouse.

    Args:
        product: the product's name, e.g. webcam.
    """
    return CATALOGUE[canonical_product(product)][1]


# -- weather ------------------------------------------------------------------------------
# city -> (temperature in °C, conditions, wind in km/h, humidity in %)
WEATHER: dict[str, tuple[float, str, int, int]] = {
    "lisbon": (21.0, "sunny", 14, 60),
    "oslo": (-3.0, "light snow", 9, 85),
    "cairo": (31.0, "clear", 11, 25),
    "tokyo": (16.0, "cloudy", 7, 70),
    "denver": (8.0, "windy", 32, 30),
    "sydney": (24.0, "partly cloudy", 18, 65),
    "reykjavik": (2.0, "rain", 27, 90),
    "nairobi": (23.0, "sunny", 12, 55),
    "toronto": (-6.0, "overcast", 15, 75),
    "mumbai": (33.0, "humid", 10, 80),
    "berlin": (11.0, "drizzle", 16, 82),
}


def canonical_city(city: str) -> str:
    """The weather table's key for a city ("Reykjavík, Iceland" → "reykjavik"), or raise."""
    text = city.strip().lower().replace("í", "i").split(",")[0].strip()
    if text in WEATHER:
        return text
    raise ValueError(
        f"No weather for {city!r}; known cities: {', '.join(c.title() for c in WEATHER)}."
    )


@tool
def weather(city: str) -> str:
    """Current weather in a city: temperature in degrees Celsius, conditions, wind, humidity.

    Args:
        city: the city's name, e.g. Lisbon.
    """
    key = canonical_city(city)
    temp, conditions, wind, humidity = WEATHER[key]
    return f"{key.title()}: {temp:g} °C, {conditions}, wind {wind} km/h, humidity {humidity} %"


# -- dates --------------------------------------------------------------------------------
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%B %d %Y", "%d %b %Y", "%b %d %Y", "%Y/%m/%d")


def canonical_date(text: str) -> dt.date:
    """A date written as 2025-03-14, "14 March 2025" or "March 14th, 2025"; else `ValueError`."""
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text.strip()).replace(",", " ")
    cleaned = " ".join(cleaned.split())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"Expected a date as YYYY-MM-DD, found {text!r}.")


@tool
def add_days(date: str, days: int) -> str:
    """The date a number of days after (or, with a negative number, before) a given date.

    Args:
        date: the starting date as YYYY-MM-DD.
        days: how many days to add; negative to go back.
    """
    return (canonical_date(date) + dt.timedelta(days=days)).isoformat()


@tool
def days_between(start: str, end: str) -> int:
    """The number of days from one date to another (negative when end is before start).

    Args:
        start: the first date as YYYY-MM-DD.
        end: the second date as YYYY-MM-DD.
    """
    return (canonical_date(end) - canonical_date(start)).days


# -- money and text -----------------------------------------------------------------------
@tool
def add_tip(bill: float, tip_percent: float) -> str:
    """Work out the tip on a bill and the total to pay with it.

    Args:
        bill: the bill's amount.
        tip_percent: the tip as a percentage of the bill, e.g. 15.
    """
    tip = round(bill * tip_percent / 100.0, 2)
    return f"tip: {tip:.2f}, total: {round(bill + tip, 2):.2f}"


@tool
def word_count(text: str) -> int:
    """Count the words in a piece of text.

    Args:
        text: the text to count.
    """
    return len(text.split())


ALL_TOOLS: list[BaseTool] = [
    calculator,
    convert_units,
    convert_currency,
    shipping_cost,
    product_price,
    stock_level,
    weather,
    add_days,
    days_between,
    add_tip,
    word_count,
]


def run_tool(name: str, args: dict[str, Any]) -> str:
    """Call the tool `name` with `args` and return its output as text (the checker's oracle)."""
    by_name = {t.name: t for t in ALL_TOOLS}
    return str(by_name[name].invoke(args))
