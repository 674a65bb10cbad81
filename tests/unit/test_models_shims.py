"""Old import paths of `lamina.models` keep working for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("lamina.models.llama_chat", "lamina.models.llama.chat", ["LlamaChatModel"]),
        ("lamina.models.remote_chat", "lamina.models.remote", ["RemoteChatModel"]),
        ("lamina.models.llama_logging", "lamina.models.llama.logs", ["route_llama_logs"]),
        ("lamina.models.cli", "lamina.cli.models", ["app"]),
    ],
)
def test_an_old_module_warns_and_gives_the_same_objects(
    old: str, new: str, names: list[str]
) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        shim = importlib.import_module(old)
    moved = importlib.import_module(new)
    for name in names:
        assert getattr(shim, name) is getattr(moved, name)


@pytest.mark.parametrize(
    "name", ["attach_kv_cache", "check_gguf_file", "evaluate_last_token_alone", "GGUF_MAGIC"]
)
def test_the_loaders_names_on_the_pool_module_warn(name: str) -> None:
    import lamina.models.pool as pool_module
    from lamina.models.llama import loader

    with pytest.warns(DeprecationWarning, match=r"lamina\.models\.llama\.loader"):
        value = getattr(pool_module, name)
    assert value is getattr(loader, name)


def test_the_public_face_of_lamina_models_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from lamina.models import ModelPool, ModelSpec, chat_model, default_pool
        from lamina.models.pool import ModelPool as PoolModule

    assert ModelPool is PoolModule
    assert callable(chat_model)
    assert callable(default_pool)
    assert ModelSpec.__name__ == "ModelSpec"
