"""API keys bound to tenants: each key reaches only its own users' memories and threads.

`lamina serve --keys keys.toml` reads a key file (TOML, or JSON with the same structure):

```toml
[[keys]]
name = "ann-laptop"       # shown in the server log; the key itself never is
key = "sk-ann-..."        # at least 16 characters
users = ["ann"]

[[keys]]
name = "support-desk"
key_sha256 = "9f86d0..."  # or the key's SHA-256 in hex, so the file holds no secret
users = ["bob", "carol"]
```

A request with such a key acts as one of its users: `lamina.user_id` or OpenAI's `user` must name
one of them (a key with a single user may leave both out), or the answer is 403. Its threads are
namespaced by user: `lamina.thread_id = "t1"` from user `ann` is kept as thread `ann:t1`, so no
key can read or continue another user's thread, whatever id it sends. Responses show the client's
own id (`t1`). User names in a key file may not hold `:`, which keeps `user:thread` unambiguous.

The single key of `LAMINA_API_KEY` is for one-user set-ups: it reaches every user and thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lamina.errors import ConfigError
from lamina.serving.requests import ApiError

if TYPE_CHECKING:
    from lamina.serving.protocol import ChatCompletionRequest

__all__ = [
    "MAX_THREAD_ID",
    "KeyFile",
    "Tenant",
    "check_users",
    "load_keys",
    "scoped_thread",
    "tenant_thread",
    "tenant_user",
]

logger = logging.getLogger(__name__)

MAX_THREAD_ID = 128
"""The longest thread id the agent's input layer takes (a scoped `user:thread` included)."""

_USER_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    key: str | None = Field(default=None, min_length=16, max_length=512)
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    users: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_key(self) -> _KeyEntry:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of `key` and `key_sha256`")
        bad = [u for u in self.users if not re.match(_USER_PATTERN, u)]
        if bad:
            raise ValueError(
                f"user ids hold 1 to 64 letters, digits or _ . @ - (no ':'); found {bad[:3]}"
            )
        return self


class _KeyFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[_KeyEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Tenant:
    """What one key may reach.

    Attributes:
        name: the key's label (for logs).
        users: the user ids it may act as, in the file's order.
    """

    name: str
    users: tuple[str, ...]

    def allows(self, user: str) -> bool:
        """Whether this key may act as `user`."""
        return user in self.users


@dataclass(frozen=True)
class KeyFile:
    """The keys a server accepts, each bound to its tenant (kept as SHA-256 digests)."""

    entries: tuple[tuple[bytes, Tenant], ...]

    def tenant_for(self, token: str) -> Tenant | None:
        """The tenant of the key `token`, or None when no key matches."""
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        # every entry is compared, no early exit: the time taken does not tell which matched
        for known, tenant in self.entries:
            if hmac.compare_digest(digest, known):
                found = tenant
        return found

    @classmethod
    def from_mapping(cls, data: Any, source: str = "the key file") -> KeyFile:
        """Validate a parsed key file.

        Raises:
            ConfigError: a field is missing or wrong, or two entries share a key.
        """
        try:
            model = _KeyFileModel.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "top level"
            raise ConfigError(
                f"Invalid {source} at {where}: {first['msg']}. Expected [[keys]] entries, each "
                "with `name`, `key` (16+ characters) or `key_sha256`, and `users`. Fix: see "
                "the README's 'Keys bound to tenants'."
            ) from None
        entries: list[tuple[bytes, Tenant]] = []
        for entry in model.keys:
            digest = (
                hashlib.sha256(entry.key.encode()).digest()
                if entry.key is not None
                else bytes.fromhex(entry.key_sha256 or "")
            )
            if any(digest == known for known, _ in entries):
                raise ConfigError(
                    f"Expected each key in {source} once; found the key of {entry.name!r} "
                    "twice. Fix: give each entry its own key (list several users in one entry "
                    "instead)."
                )
            entries.append((digest, Tenant(entry.name, tuple(dict.fromkeys(entry.users)))))
        return cls(tuple(entries))


def load_keys(path: Path) -> KeyFile:
    """Read a key file: TOML (`.toml`) or JSON (`.json`).

    Raises:
        ConfigError: the file is missing, unreadable, not TOML/JSON, or invalid.
    """
    if path.suffix not in (".toml", ".json"):
        raise ConfigError(
            f"Expected a key file ending in .toml or .json; found {str(path)!r}. Fix: name it "
            "keys.toml (or keys.json)."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Expected a readable key file at {str(path)!r}; found {type(exc).__name__}: "
            f"{exc}. Fix: check the path given to --keys."
        ) from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"Expected valid {path.suffix[1:].upper()} in the key file {str(path)!r}; found "
            f"an error: {exc}. Fix: correct the file."
        ) from None
    return KeyFile.from_mapping(data, f"the key file {str(path)!r}")


def scoped_thread(user: str, thread: str) -> str:
    """The thread id the agent keeps for `user`'s thread `thread` (user ids hold no `:`)."""
    return f"{user}:{thread}"


def check_users(tenant: Tenant, req: ChatCompletionRequest) -> list[str]:
    """The users a request names (`lamina.user_id`, then `user`), each one of `tenant`'s.

    Raises:
        ApiError: 403 for a user outside the key's.
    """
    named = [
        (field, user)
        for field, user in (
            ("lamina.user_id", req.lamina.user_id if req.lamina else None),
            ("user", req.user),
        )
        if user
    ]
    for field, user in named:
        if not tenant.allows(user):
            logger.warning("key %r asked to act as user %r: refused (403)", tenant.name, user)
            raise ApiError(
                403,
                f"Expected `{field}` to be a user this API key may act as "
                f"({', '.join(tenant.users)}); found {user!r}. Fix: send one of those, or ask "
                "the server's operator for a key bound to that user.",
                "permission_error",
                "user_not_allowed",
                param=field,
            )
    return [user for _, user in named]


def tenant_user(tenant: Tenant, req: ChatCompletionRequest) -> str:
    """The user an agent request acts as under `tenant`'s key: the one it names, or the key's
    only user.

    Raises:
        ApiError: 403 for a user outside the key's; 400 when the key has several users and the
            request names none.
    """
    named = check_users(tenant, req)
    if named:
        return named[0]
    if len(tenant.users) == 1:
        return tenant.users[0]
    raise ApiError(
        400,
        f"Expected `user` (or `lamina.user_id`) naming which of this key's users "
        f"({', '.join(tenant.users)}) the request is for; found neither. Fix: set `user`.",
        param="user",
    )


def tenant_thread(user: str, thread: str | None) -> tuple[str, str]:
    """The scoped thread id the agent keeps, and the id the client sees (a new one when None).

    Raises:
        ApiError: 400 when the scoped id would be longer than the agent takes.
    """
    public = thread or uuid.uuid4().hex
    scoped = scoped_thread(user, public)
    if len(scoped) > MAX_THREAD_ID:
        raise ApiError(
            400,
            f"Expected `lamina.thread_id` of at most {MAX_THREAD_ID - len(user) - 1} characters "
            f"for user {user!r} (the server keeps it as '{user}:<thread_id>'); found "
            f"{len(public)}. Fix: use a shorter thread id.",
            param="lamina.thread_id",
        )
    return scoped, public
