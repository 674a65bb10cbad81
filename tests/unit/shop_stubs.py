"""Stub tools of a shop, for unit tests of planning and answers that read only a tool's name,
arguments and description: what they return is never used."""

from __future__ import annotations

from langchain_core.tools import tool


@tool
def product_price(product: str) -> float:
    """Look up the unit price in euros of a product in our shop."""
    return 1.0


@tool
def stock_level(product: str) -> int:
    """How many units of a product are in stock in our warehouse."""
    return 1
