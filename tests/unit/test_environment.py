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


def test_the_installed_llama_cpp_has_no_amx_path() -> None:
    """llama.cpp's AMX kernels segfault on AMX CPUs (llama.cpp issue 20824): the set-up builds
    without them. This reads the build itself, so it fails on any machine, AMX or not, when the
    installed llama-cpp-python was compiled with AMX (say, a wheel from pip's cache)."""
    from lamina.models.llama.build_info import build_info, library_paths

    info = build_info()
    assert info.llama_cpp_version, "llama-cpp-python is not installed"
    assert info.features.get("AVX2") == 1, f"llama.cpp's system info changed: {info.system_info!r}"
    assert info.features.get("AMX_INT8", 0) == 0, info.problems()  # listed only when compiled in
    assert library_paths(), "llama-cpp-python's libraries were not found"
    assert all(count == 0 for count in info.amx_instructions.values()), info.amx_instructions
    assert not info.problems()
