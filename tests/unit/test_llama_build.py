"""What lamina reads from a llama.cpp build: features, AMX instructions, the load-time guard."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from lamina.errors import ModelError
from lamina.models.llama import build_info as bi

SYSTEM_INFO = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 1 | "
    "AMX_INT8 = {amx} | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
AMX_SOURCE = """
#include <immintrin.h>
void f(const void* p, void* q) {
    _tile_loadd(0, p, 64); _tile_dpbssd(2, 0, 1); _tile_stored(2, q, 64); _tile_release();
}
"""
PLAIN_SOURCE = "int g(int a, int b) { return a * b + 0x4b5e49; }\n"


def _info(amx: int = 0, instructions: dict[str, int | None] | None = None, cpu=()) -> bi.BuildInfo:
    text = SYSTEM_INFO.format(amx=amx)
    features = bi.parse_system_info(text)
    return bi.BuildInfo("0.3.36", text, features, instructions or {}, frozenset(cpu))


def test_system_info_pairs_are_parsed() -> None:
    features = bi.parse_system_info(SYSTEM_INFO.format(amx=1))
    assert features["AVX512"] == 1
    assert features["AMX_INT8"] == 1
    assert features["OPENMP"] == 1


def test_a_clean_build_has_no_problems() -> None:
    info = _info(amx=0, instructions={"libggml-cpu.so": 0}, cpu={"amx_tile", "avx2"})
    assert not info.build_has_amx
    assert info.cpu_has_amx
    assert info.problems() == []


@pytest.mark.parametrize(
    ("amx", "instructions"), [(1, {}), (0, {"libggml-cpu.so": 12}), (1, {"libggml-cpu.so": 3})]
)
def test_either_signal_names_an_amx_build_with_its_fix(amx, instructions) -> None:
    info = _info(amx=amx, instructions=instructions)
    assert info.build_has_amx
    [problem] = info.problems()
    assert "ggml_backend_amx_mul_mat" in problem
    assert "-mno-amx-int8" in problem  # the fix
    assert "on any CPU with AMX" in problem  # this fake CPU has none


def test_the_problem_says_when_this_cpu_would_crash() -> None:
    [problem] = _info(amx=1, cpu={"amx_tile"}).problems()
    assert "this CPU has AMX" in problem


def test_a_missing_llama_cpp_is_a_problem() -> None:
    info = bi.BuildInfo("", "", {}, {})
    assert info.problems() == ["llama-cpp-python is not installed. Fix: `make setup`."]


def _compile(tmp_path: Path, source: str, *flags: str) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc is not None, "a C compiler is part of the set-up (it builds llama.cpp)"
    src = tmp_path / "probe.c"
    src.write_text(source)
    obj = tmp_path / "probe.o"
    subprocess.run([cc, "-O2", *flags, "-c", str(src), "-o", str(obj)], check=True)
    return obj


def test_amx_instructions_are_counted_in_compiled_code(tmp_path: Path) -> None:
    obj = _compile(tmp_path, AMX_SOURCE, "-mamx-tile", "-mamx-int8")
    assert bi.amx_instruction_count(obj) == 4  # tileloadd, tdpbssd, tilestored, tilerelease


def test_code_without_amx_counts_none(tmp_path: Path) -> None:
    # 0x4b5e49 and -march=native put the opcode bytes of AMX instructions in plain code.
    obj = _compile(tmp_path, PLAIN_SOURCE, "-march=native")
    assert bi.amx_instruction_count(obj) == 0


def _fake_llama_cpp(monkeypatch: pytest.MonkeyPatch, amx: int) -> None:
    fake = types.ModuleType("llama_cpp")
    fake.llama_print_system_info = lambda: SYSTEM_INFO.format(amx=amx).encode()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", fake)


def test_loading_refuses_an_amx_build_on_an_amx_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_llama_cpp(monkeypatch, amx=1)
    monkeypatch.setattr(bi, "cpu_flags", lambda: frozenset({"amx_tile", "amx_int8"}))
    with pytest.raises(ModelError, match="would segfault in ggml_backend_amx_mul_mat") as err:
        bi.check_amx_safe()
    assert "-mno-amx-tile" in str(err.value)
    bi.check_amx_safe(allow_amx=True)  # the escape hatch for a fixed llama.cpp


@pytest.mark.parametrize(("amx", "cpu"), [(1, {"avx512f"}), (0, {"amx_tile", "amx_int8"})])
def test_loading_goes_ahead_when_nothing_would_crash(monkeypatch, amx, cpu) -> None:
    _fake_llama_cpp(monkeypatch, amx=amx)
    monkeypatch.setattr(bi, "cpu_flags", lambda: frozenset(cpu))
    bi.check_amx_safe()


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_tile amx_int8\n\n")
    assert bi.cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_tile", "amx_int8"}
    assert bi.cpu_flags(tmp_path / "missing") == frozenset()


def test_the_setup_check_exits_non_zero_on_an_amx_build(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bi, "build_info", lambda: _info(amx=1))
    assert bi.main(["--require-no-amx"]) == 1
    assert "warning: llama.cpp was built with AMX" in capsys.readouterr().err
    assert bi.main([]) == 0  # without the flag it only reports
    monkeypatch.setattr(bi, "build_info", lambda: _info(amx=0))
    assert bi.main(["--require-no-amx"]) == 0
