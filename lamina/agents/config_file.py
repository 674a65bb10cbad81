"""`lamina.toml`: declare models, routes and tool modules for `lamina run` and `Agent.from_config`.

    default_model = "smollm2-135m-instruct"
    max_steps = 8
    tools = ["lamina.tools.calculator:calculator", "my_package.tools:lookup_price"]

    [[models]]
    name = "qwen-0.5b"
    path = "~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    capabilities = ["chat", "tools"]

    [[routes]]
    name = "arithmetic"
    model = "smollm2-135m-instruct"
    utterances = ["what is 12 times 7", "add these numbers"]
    threshold = 0.5

    max_plan_steps = 4            # any agent option (`lamina.config.AgentOptions`)
    verifiers = ["arithmetic"]    # by name; `prompts` names a file of lamina/prompts/

Settings (`home`, `n_threads`, `seed`, ...; every field of `lamina.config.Settings`) and agent
options (every field of `lamina.config.AgentOptions`) sit at the top level too. A setting in the
file gives way to the same setting in the environment (`LAMINA_*`) or a flag (`--set`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lamina.config import AgentOptions, Settings, unknown_name_message
from lamina.config.settings import find_config, read_config_file
from lamina.errors import ConfigError
from lamina.guards.tool_relevance import FITS_ABOVE, SHORTLIST_MARGIN, SUPPORTS_ABOVE, ToolRelevance
from lamina.models.catalog import ModelSpec

if TYPE_CHECKING:
    from lamina.layers.router import Route

__all__ = ["AgentConfig", "RouteConfig", "find_config", "load_config", "load_tool", "named_options"]


class RouteConfig(BaseModel):
    """A `[[routes]]` table."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str
    utterances: list[str] | None = None
    threshold: float | None = None
    description: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    task: str | None = None

    def to_route(self) -> Route:
        """This table as a router `Route` (validated there).

        A table without `utterances` named like one of lamina's default routes (arithmetic,
        summarise, recall, chat) takes that route's utterances, threshold and description, so a
        deployment can move a default intent to another model in three lines.

        Raises:
            ConfigError: no utterances and no default route of that name.
        """
        from lamina.layers.router import Route
        from lamina.layers.router.defaults import default_routes

        utterances = self.utterances
        threshold, description, task = self.threshold, self.description, self.task
        if utterances is None:
            defaults = {r.name: r for r in default_routes()}
            base = defaults.get(self.name)
            if base is None:
                raise ConfigError(
                    f"Route {self.name!r} has no `utterances`; only lamina's default routes "
                    f"({', '.join(defaults)}) may leave them out. Fix: add utterances = "
                    '["an example request", ...].'
                )
            utterances = list(base.utterances)
            threshold = base.threshold if threshold is None else threshold
            description = base.description if description is None else description
            task = base.task if task is None else task
        return Route(
            name=self.name,
            utterances=utterances,
            model=self.model,
            threshold=threshold,
            description=description,
            fallbacks=tuple(self.fallbacks),
            task=task or "answer",  # type: ignore[arg-type]  # checked by Route
        )


class RouterConfig(BaseModel):
    """The `[router]` table: opt-in router behaviour (see `Agent`'s arguments)."""

    model_config = ConfigDict(extra="forbid")

    affinity_margin: float | None = None
    llm_fallback: str | None = Field(default=None, description="A model name.")
    band: float = 0.05
    aggregate: Literal["centroid", "max", "mean_topk"] | None = Field(
        default=None, description="How routes are scored (None: see Agent(router_aggregate=))."
    )


class ToolRelevanceConfig(BaseModel):
    """The `[tool_relevance]` table: how tools are weighed by meaning (see
    `lamina.guards.tool_relevance`); `enabled = false` weighs them by words only."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    fits_above: float = Field(default=FITS_ABOVE, ge=-1.0, le=1.0)
    supports_above: float = Field(default=SUPPORTS_ABOVE, ge=-1.0, le=1.0)
    margin: float = Field(default=SHORTLIST_MARGIN, ge=0.0)


class AgentConfig(BaseModel):
    """The agent part of `lamina.toml`."""

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = Field(default_factory=dict, description="Top-level settings keys.")
    options: AgentOptions = Field(
        default_factory=lambda: AgentOptions(), description="Agent options."
    )
    models: list[ModelSpec] = Field(default_factory=list)
    routes: list[RouteConfig] | None = None
    tools: list[str] | None = None
    default_model: str | None = None
    memory: bool | str = True
    checkpointer: str | None = None
    ledger: bool | str | None = None
    router: RouterConfig | None = None
    tool_relevance: ToolRelevanceConfig | None = None
    mcp: list[dict[str, Any]] | None = Field(
        default=None, description="[[mcp]] tables: MCP servers whose tools the agent gets."
    )

    def build_routes(self) -> list[Route]:
        """The `[[routes]]` tables as router `Route`s (empty when the file declares none)."""
        return [r.to_route() for r in self.routes or []]

    def build_agent_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Agent(...)`."""
        from lamina.models.catalog import DEFAULT_MODELS

        kwargs: dict[str, Any] = {**self.options.explicit(), "memory": self.memory}
        if self.checkpointer is not None:
            kwargs["checkpointer"] = self.checkpointer
        if self.ledger is not None:
            kwargs["ledger"] = self.ledger
        if self.router is not None:
            kwargs.update(
                affinity_margin=self.router.affinity_margin,
                router_llm=self.router.llm_fallback,
                router_band=self.router.band,
                router_aggregate=self.router.aggregate,
            )
        if self.tool_relevance is not None:
            kwargs["tool_relevance"] = self._tool_relevance(self.tool_relevance)
        if self.models:
            kwargs["models"] = [*DEFAULT_MODELS, *self.models]
        if self.routes is not None:
            kwargs["routes"] = self.build_routes()
        if self.tools is not None:
            kwargs["tools"] = [load_tool(ref) for ref in self.tools]
        if self.mcp:
            from lamina.tools.mcp import mcp_tools_from_config

            kwargs["tools"] = [*kwargs.get("tools", []), *mcp_tools_from_config(self.mcp)]
        if self.default_model:
            kwargs["default_model"] = self.default_model
        return kwargs

    @staticmethod
    def _tool_relevance(table: ToolRelevanceConfig) -> ToolRelevance | bool:
        if not table.enabled:
            return False
        return ToolRelevance(
            fits_above=table.fits_above, supports_above=table.supports_above, margin=table.margin
        )


def load_tool(ref: str) -> Any:
    """Import a tool named `module:attribute` (a list attribute adds several tools)."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ConfigError(
            f"Expected a tool reference 'module:attribute'; found {ref!r}. "
            "Fix: e.g. tools = ['my_package.tools:lookup_price']."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"Tool module {module_name!r} could not be imported ({exc}). "
            "Fix: install it or put it on PYTHONPATH."
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(
            f"Module {module_name!r} has no attribute {attr!r} (tool reference {ref!r}). "
            f"Fix: check the name; the module defines {sorted(vars(module))[:20]}."
        ) from None


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate the agent part of a `lamina.toml`.

    Top-level keys are sorted three ways: fields of `Settings`, fields of `AgentOptions`, and
    the agent's own keys (models, routes, tools, ...). An unknown key raises `ConfigError`
    naming the closest known one.
    """
    p = Path(path).expanduser()
    raw = read_config_file(p)
    settings_keys = set(Settings.model_fields)
    option_keys = set(AgentOptions.model_fields)
    agent_keys = set(AgentConfig.model_fields) - {"settings", "options"}
    for key in raw:
        if key not in settings_keys | option_keys | agent_keys:
            known = settings_keys | option_keys | agent_keys
            raise ConfigError(unknown_name_message(key, known, what="key", where=str(p)))
    options = named_options({k: v for k, v in raw.items() if k in option_keys}, where=str(p))
    agent_part = {k: v for k, v in raw.items() if k in agent_keys}
    agent_part["settings"] = {k: v for k, v in raw.items() if k in settings_keys}
    agent_part["options"] = AgentOptions.from_kwargs(options, where=str(p))
    try:
        return AgentConfig.model_validate(agent_part)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ConfigError(f"{p} does not match lamina's config format: {problems}.") from None


def named_options(options: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Options that a TOML file gives by name, as the objects `AgentOptions` holds:
    `prompts = "reasoning"` (a prompt file of lamina/prompts/) and `verifiers = ["arithmetic"]`.
    """
    resolved = dict(options)
    prompts = options.get("prompts")
    if isinstance(prompts, str):
        from lamina.layers.reasoning.prompts import load_prompts

        resolved["prompts"] = load_prompts(prompts)
    verifiers = options.get("verifiers")
    if isinstance(verifiers, list) and all(isinstance(v, str) for v in verifiers):
        from lamina.layers.reasoning.verification import default_verifiers

        known = {v.name: v for v in default_verifiers()}
        for name in verifiers:
            if name not in known:
                raise ConfigError(unknown_name_message(name, known, what="verifier", where=where))
        resolved["verifiers"] = [known[name] for name in verifiers]
    return resolved
