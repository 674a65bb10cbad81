"""Tools: lamina's stricter `@tool`, the registry and the built-in tools."""
