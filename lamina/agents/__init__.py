"""The Agent facade: build, run, stream and resume the five-layer graph."""
