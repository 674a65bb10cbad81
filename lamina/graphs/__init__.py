"""Deprecated: the graph state and contracts moved to :mod:`lamina.core`, the builder and the
editing helpers to :mod:`lamina.graph`. This package goes away in the next release."""

import warnings

warnings.warn(
    "lamina.graphs is deprecated; import from lamina.core (state, context, nodes) or lamina.graph",
    DeprecationWarning,
    stacklevel=2,
)
