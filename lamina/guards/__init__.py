"""Small-model guards: the checks and shortcuts lamina keeps because small models need them.

Each guard is a named function or class that returns a finding (never a layer's exception); the
layers decide what to do with it. `tool_relevance.py` weighs tools against a request by meaning
(the encoder); `tool_shortlist.py` picks tools by the words of their names and decides whether a
step needs a tool, and `written_arithmetic.py` finds the arithmetic a step writes out, which is
then the call as written; `tool_calls.py` catches arguments copied from a tool's description and
final texts that only echo the tool instructions; `grounding.py` narrows tool schemas to the
numbers and spans the run was given and `ungrounded.py` finds free string arguments made of
words nobody gave; `degenerate.py` catches empty, echoing or looping output; `unfinished.py`
finds words of a request that point to a tool no successful call used; `quantities.py` reads
what a figure is (a value of one thing, a rate, a count), for the step that multiplies them,
with `request_quantities.py` for the request's own figures and `noun_phrases.py` for the things
they are of. Each is
switched on or off by one field of `lamina.config.options.Guards` (`Agent(guards=...)`,
`[guards]` in lamina.toml).
"""
