"""Graph state and the graph builders (a variant is a new builder, not a flag)."""
