"""Deprecated: the OpenAI-compatible chat model moved to :mod:`lamina.models.remote`."""

from __future__ import annotations

import warnings

from lamina.models.remote import RemoteChatModel

__all__ = ["RemoteChatModel"]

warnings.warn(
    "lamina.models.remote_chat is deprecated; import from lamina.models.remote",
    DeprecationWarning,
    stacklevel=2,
)
