"""The environment lamina is built for: a CPU-only torch (no multi-GB CUDA build)."""

from __future__ import annotations

import importlib.metadata


def test_torch_is_the_cpu_build() -> None:
    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
    assert not torch.cuda.is_available()


def test_no_nvidia_runtime_packages_were_pulled_in() -> None:
    names = {(dist.metadata["Name"] or "").lower() for dist in importlib.metadata.distributions()}
    assert not {n for n in names if n.startswith("nvidia-")}
