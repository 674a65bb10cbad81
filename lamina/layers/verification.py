"""Deprecated: moved to lamina.layers.reasoning.verification.

This shim goes away in the next release."""

import warnings

from lamina.layers.reasoning.verification import (
    ArithmeticVerifier,
    Verdict,
    Verifier,
    default_verifiers,
    final_number,
    numbers_in,
    verify,
)

warnings.warn(
    "lamina.layers.verification is deprecated; import from lamina.layers.reasoning.verification",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "ArithmeticVerifier",
    "Verdict",
    "Verifier",
    "default_verifiers",
    "final_number",
    "numbers_in",
    "verify",
]
