"""A small MCP server for lamina's tests, written with the `mcp` SDK (FastMCP).

python arith_server.py                  # stdio
python arith_server.py http PORT        # streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

from mcp.server.fastmcp import FastMCP
from pydantic import Field

server = FastMCP("arith", host="127.0.0.1", log_level="WARNING")


@server.tool()
def add_numbers(
    a: Annotated[float, Field(description="The first number.")],
    b: Annotated[float, Field(description="The second number.")],
) -> str:
    """Add two numbers and return their sum."""
    total = a + b
    return str(int(total) if total == int(total) else total)


@server.tool()
def paint(
    color: Annotated[Literal["red", "green", "blue"], Field(description="The colour.")],
    coats: Annotated[int, Field(gt=0, lt=4, description="How many coats, 1 to 3.")],
) -> str:
    """Paint the wall in a colour."""
    return f"painted {color} x{coats}"


@server.tool()
def always_fails(reason: Annotated[str, Field(description="Why it fails.")]) -> str:
    """A tool whose every call fails."""
    raise ValueError(f"refused: {reason}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "http":
        server.settings.port = int(sys.argv[2])
        server.run(transport="streamable-http")
    else:
        server.run()
