"""What the installed llama.cpp was built with, what this CPU offers, and the known-bad mixes.

llama.cpp built with `-march=native` on a CPU with AMX (Intel Sapphire Rapids and later) compiles
its AMX matmul path, which repacks Q4_0/Q4_1/Q4_K weights into AMX tiles and segfaults in
`ggml_backend_amx_mul_mat` on the first prompt of a few dozen tokens (llama.cpp issue 20824,
unfixed). lamina's set-up therefore builds llama-cpp-python with `-mno-amx-*` (see the
Makefile), and this module is how the set-up, `lamina doctor`, the model loader and the tests
find out whether the build in use has the AMX path anyway (say, a wheel from pip's cache).

Two independent signals, so a build is caught even when one of them is silent:

* `llama_print_system_info()` reports `AMX_INT8 = 1` when ggml-cpu was compiled with AMX;
* llama.cpp's CPU backend library holds AMX tile instructions (`tileloadd`, `tdpbssd`, ...),
  found by disassembling it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = [
    "AMX_FIX",
    "BuildInfo",
    "amx_instruction_count",
    "build_info",
    "check_amx_safe",
    "cpu_flags",
    "library_paths",
    "main",
    "parse_system_info",
]

AMX_FIX = (
    "rebuild llama-cpp-python without AMX: `make setup` does it, or by hand "
    "CMAKE_ARGS=\"-DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' "
    "-DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'\" "
    "pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python"
)

_AMX_MNEMONIC = re.compile(
    r"\s(?:tileloadd(?:t1)?|tilestored|tilezero|tilerelease|ldtilecfg|sttilecfg"
    r"|tdpb[su][su]d|tdpbf16ps|tdpfp16ps|tcmmi?mfp16ps)\s"
)
_FEATURE = re.compile(r"([A-Z][A-Z0-9_]*)\s*=\s*(\d+)")


def parse_system_info(text: str) -> dict[str, int]:
    """The `NAME = value` pairs of llama.cpp's system info (`AVX2 = 1 | AMX_INT8 = 0 | ...`)."""
    return {name: int(value) for name, value in _FEATURE.findall(text)}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags this CPU reports (empty off Linux)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def library_paths() -> list[Path]:
    """llama-cpp-python's libraries that hold the CPU kernels (libggml-cpu, else all of them)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return []
    lib = Path(spec.origin).parent / "lib"
    if not lib.is_dir():
        return []
    # The wheel ships libX.so, libX.so.0 and libX.so.0.25.3 as copies: scan one of each.
    found: dict[str, Path] = {}
    for path in sorted(lib.glob("*.so*")):
        if path.is_file() and not path.is_symlink():
            found.setdefault(path.name.split(".so")[0], path)
    cpu = [p for name, p in found.items() if name.startswith("libggml-cpu")]
    return cpu or list(found.values())


def amx_instruction_count(path: Path) -> int | None:
    """How many AMX tile instructions the machine code in `path` holds (None: cannot tell).

    Disassembles with binutils' objdump (installed with the compiler that builds llama.cpp): a
    scan of raw bytes for the instructions' encodings also matches bytes inside other
    instructions (seen in libcurl and numpy), so only a disassembler gives a reliable count.
    """
    import shutil
    import subprocess

    objdump = shutil.which("objdump")
    if objdump is None:
        return None
    listing = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    if listing.returncode != 0:
        return None
    return len(_AMX_MNEMONIC.findall(listing.stdout))


@dataclass(frozen=True)
class BuildInfo:
    """The installed llama.cpp build, this CPU, and what is wrong with the two together.

    Attributes:
        llama_cpp_version: llama-cpp-python's version ("" when it is not installed).
        system_info: llama.cpp's own system-info line.
        features: its `NAME = value` pairs (`AVX2`, `AVX512`, `AMX_INT8`, `OPENMP`, ...).
        amx_instructions: AMX tile instructions per library scanned (None: no disassembler).
        cpu_flags: the AMX/AVX flags the CPU reports.
    """

    llama_cpp_version: str
    system_info: str
    features: dict[str, int]
    amx_instructions: dict[str, int | None]
    cpu_flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def build_has_amx(self) -> bool:
        """The build would take llama.cpp's AMX path (compiled in, by either signal).

        llama.cpp lists `AMX_INT8 = 1` when it was compiled in and leaves the key out otherwise.
        """
        return self.features.get("AMX_INT8", 0) == 1 or any(self.amx_instructions.values())

    @property
    def cpu_has_amx(self) -> bool:
        """This CPU executes AMX instructions (`amx_tile` in its flags)."""
        return "amx_tile" in self.cpu_flags

    def problems(self) -> list[str]:
        """Known-bad combinations, each with its fix (empty when all is well)."""
        found: list[str] = []
        if not self.llama_cpp_version:
            found.append("llama-cpp-python is not installed. Fix: `make setup`.")
        elif self.build_has_amx:
            where = ", ".join(f"{n}: {c}" for n, c in self.amx_instructions.items()) or "-"
            risk = (
                "this CPU has AMX, so the first prompt segfaults in ggml_backend_amx_mul_mat"
                if self.cpu_has_amx
                else "on any CPU with AMX it segfaults in ggml_backend_amx_mul_mat"
            )
            found.append(
                f"llama.cpp was built with AMX (AMX_INT8 = {self.features.get('AMX_INT8', 0)}; "
                f"AMX tile instructions: {where}): {risk} (llama.cpp issue 20824). Fix: {AMX_FIX}."
            )
        return found


@lru_cache(maxsize=1)
def build_info() -> BuildInfo:
    """Read the installed build once per process (loads llama.cpp's library, not a model)."""
    from importlib import metadata

    flags = frozenset(f for f in cpu_flags() if f.startswith(("amx", "avx")) or f == "fma")
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return BuildInfo("", "", {}, {}, flags)
    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()
    counts = {p.name: amx_instruction_count(p) for p in library_paths()}
    return BuildInfo(
        llama_cpp_version=version,
        system_info=text,
        features=parse_system_info(text),
        amx_instructions=counts,
        cpu_flags=flags,
    )


def check_amx_safe(allow_amx: bool = False) -> None:
    """Refuse to load a model when llama.cpp would take its crashing AMX path on this CPU.

    Reads only llama.cpp's system info and the CPU flags (no library scan), so it costs nothing
    per load. Without the check, the first prompt of a few dozen tokens kills the process with a
    segmentation fault and no message.

    Args:
        allow_amx: load anyway (`allow_amx = true` in the settings), for a llama.cpp that has
            fixed the bug.

    Raises:
        ModelError: the build has AMX (`AMX_INT8 = 1`) and this CPU has AMX.
    """
    if allow_amx or "amx_tile" not in cpu_flags():
        return
    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    if parse_system_info(text).get("AMX_INT8", 0) == 1:
        from lamina.errors import ModelError

        raise ModelError(
            "llama.cpp was built with AMX (AMX_INT8 = 1) and this CPU has AMX: the first prompt "
            "would segfault in ggml_backend_amx_mul_mat (llama.cpp issue 20824). Expected a "
            f"build without AMX. Fix: {AMX_FIX}; `lamina doctor` shows the build. Set "
            "LAMINA_ALLOW_AMX=1 only for a llama.cpp that has fixed the bug."
        )


def main(argv: list[str] | None = None) -> int:
    """`python -m lamina.models.llama.build_info [--require-no-amx]`, for the set-up.

    Prints the build's system info; with `--require-no-amx` exits 1 when the build has AMX.
    """
    args = sys.argv[1:] if argv is None else argv
    info = build_info()
    print(f"llama-cpp-python {info.llama_cpp_version or '(not installed)'}: {info.system_info}")
    problems = info.problems()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 1 if "--require-no-amx" in args and problems else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
