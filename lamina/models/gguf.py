"""A small pure-Python reader for the header of a GGUF file (no llama.cpp needed).

GGUF (versions 2 and 3) starts with the magic bytes ``GGUF``, a ``uint32`` version, a ``uint64``
tensor count and a ``uint64`` metadata count, followed by typed key/value pairs and then one
descriptor per tensor (name, dimensions, type, offset). This module reads those, never the tensor
data, so inspecting a model costs milliseconds and no memory.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lamina.errors import ModelFileError

__all__ = ["FILE_TYPE_NAMES", "GGUFInfo", "read_gguf_metadata"]

GGUF_MAGIC = b"GGUF"

_STRING = 8
_ARRAY = 9
# type id -> (struct code, size in bytes, name) for the fixed-size value types.
_SCALARS: dict[int, tuple[str, int, str]] = {
    0: ("B", 1, "uint8"),
    1: ("b", 1, "int8"),
    2: ("H", 2, "uint16"),
    3: ("h", 2, "int16"),
    4: ("I", 4, "uint32"),
    5: ("i", 4, "int32"),
    6: ("f", 4, "float32"),
    7: ("?", 1, "bool"),
    10: ("Q", 8, "uint64"),
    11: ("q", 8, "int64"),
    12: ("d", 8, "float64"),
}
_TYPE_NAMES = {**{k: v[2] for k, v in _SCALARS.items()}, _STRING: "string", _ARRAY: "array"}

# Bounds that no real model reaches; past them the file is corrupt, and reading on would only
# allocate absurd amounts of memory before failing.
_MAX_STRING = 1 << 28
_MAX_KV = 1 << 20
_MAX_TENSORS = 1 << 22
_MAX_DIMS = 8

FILE_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
}
"""`general.file_type` values (llama.cpp's `llama_ftype`) and their usual names."""

_TENSOR_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
}


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file's header says.

    Attributes:
        path: the file read.
        version: GGUF format version (2 or 3).
        tensor_count: number of tensors in the file.
        metadata: every key/value pair; arrays longer than the reader's limit (the tokenizer
            vocabulary, for one) are summarised as ``"[array of N <type>]"``.
        size_bytes: the file's size.
        n_parameters: total number of tensor elements (the model's parameter count).
        tensor_types: how many tensors use each ggml type (``{"Q4_K": 96, "F32": 65}``).
    """

    path: Path
    version: int
    tensor_count: int
    metadata: Mapping[str, Any]
    size_bytes: int
    n_parameters: int | None = None
    tensor_types: Mapping[str, int] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """The metadata value at `key`, or `default`."""
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str | None:
        """`general.architecture` (``"llama"``, ``"gemma3"``, ...)."""
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def model_name(self) -> str | None:
        """`general.name`, if the file has one."""
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) else None

    def _arch_int(self, suffix: str) -> int | None:
        arch = self.architecture
        value = self.metadata.get(f"{arch}.{suffix}") if arch else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def context_length(self) -> int | None:
        """The context length the model was trained for (`<arch>.context_length`)."""
        return self._arch_int("context_length")

    @property
    def embedding_length(self) -> int | None:
        """Hidden size (`<arch>.embedding_length`)."""
        return self._arch_int("embedding_length")

    @property
    def block_count(self) -> int | None:
        """Number of transformer blocks (`<arch>.block_count`)."""
        return self._arch_int("block_count")

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template (`tokenizer.chat_template`), if the file carries one."""
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def has_chat_template(self) -> bool:
        """Whether the file carries a chat template."""
        return bool(self.chat_template)

    @property
    def file_type(self) -> int | None:
        """`general.file_type` (llama.cpp's `llama_ftype`), if present."""
        value = self.metadata.get("general.file_type")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def file_type_name(self) -> str | None:
        """The quantisation, e.g. ``"Q4_K_M"``; falls back to the most common tensor type."""
        if self.file_type is not None:
            return FILE_TYPE_NAMES.get(self.file_type, f"unknown ({self.file_type})")
        if self.tensor_types:
            return max(self.tensor_types.items(), key=lambda item: item[1])[0]
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view, with the derived fields spelled out."""
        return {
            "path": str(self.path),
            "version": self.version,
            "tensor_count": self.tensor_count,
            "size_bytes": self.size_bytes,
            "architecture": self.architecture,
            "name": self.model_name,
            "context_length": self.context_length,
            "embedding_length": self.embedding_length,
            "block_count": self.block_count,
            "has_chat_template": self.has_chat_template,
            "file_type": self.file_type_name,
            "n_parameters": self.n_parameters,
            "tensor_types": dict(self.tensor_types),
            "metadata": dict(self.metadata),
        }


class _CorruptError(Exception):
    """Internal: the bytes do not follow the GGUF layout."""


class _Reader:
    def __init__(self, fh: BinaryIO, endian: str) -> None:
        self._fh = fh
        self._endian = endian

    def _read(self, n: int) -> bytes:
        data = self._fh.read(n)
        if len(data) != n:
            raise _CorruptError(
                f"the file ends early (wanted {n} bytes at offset {self._fh.tell()})"
            )
        return data

    def scalar(self, code: str) -> Any:
        size = struct.calcsize(code)
        return struct.unpack(self._endian + code, self._read(size))[0]

    def count(self, limit: int, what: str) -> int:
        n = int(self.scalar("Q"))
        if n > limit:
            raise _CorruptError(f"implausible {what} {n}")
        return n

    def string(self) -> str:
        n = self.count(_MAX_STRING, "string length")
        return self._read(n).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.count(_MAX_STRING, "string length")
        self._fh.seek(n, 1)

    def value(self, type_id: int, max_array: int) -> Any:
        if type_id == 6:
            # float32 carries ~7 significant digits; show 1e-05, not 9.999999747378752e-06.
            return float(f"{self.scalar('f'):.7g}")
        if type_id in _SCALARS:
            return self.scalar(_SCALARS[type_id][0])
        if type_id == _STRING:
            return self.string()
        if type_id == _ARRAY:
            item_type = int(self.scalar("I"))
            n = int(self.scalar("Q"))
            if item_type not in _TYPE_NAMES:
                raise _CorruptError(f"unknown array item type {item_type}")
            if n <= max_array:
                return [self.value(item_type, max_array) for _ in range(n)]
            self.skip_array(item_type, n)
            return f"[array of {n} {_TYPE_NAMES[item_type]}]"
        raise _CorruptError(f"unknown value type {type_id}")

    def skip_array(self, item_type: int, n: int) -> None:
        if item_type in _SCALARS:
            self._fh.seek(n * _SCALARS[item_type][1], 1)
        elif item_type == _STRING:
            for _ in range(n):
                self.skip_string()
        else:  # nested arrays
            for _ in range(n):
                inner = int(self.scalar("I"))
                if inner not in _TYPE_NAMES:
                    raise _CorruptError(f"unknown array item type {inner}")
                self.skip_array(inner, int(self.scalar("Q")))


def read_gguf_metadata(
    path: str | Path, *, max_array: int = 16, read_tensors: bool = True
) -> GGUFInfo:
    """Read the header of a GGUF file: version, counts, metadata and tensor descriptors.

    Args:
        path: the `.gguf` file.
        max_array: arrays with more items than this are summarised, not returned.
        read_tensors: also read the tensor descriptors (parameter count, tensor types).

    Returns:
        The file's :class:`GGUFInfo`.

    Raises:
        ModelFileError: the file is missing, unreadable, not GGUF, or its header is corrupt.
    """
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
        fh = path.open("rb")
    except FileNotFoundError as exc:
        raise ModelFileError(
            f"Expected a GGUF file at {path}, found nothing there. Fix: check the path, or "
            "`lamina models pull NAME` for a catalog model."
        ) from exc
    except OSError as exc:
        raise ModelFileError(
            f"Cannot read {path} ({exc.strerror}). Fix: check that it is a file you may read."
        ) from exc
    with fh:
        magic = fh.read(4)
        if magic != GGUF_MAGIC:
            raise ModelFileError(
                f"{path} is not a GGUF file: expected the magic bytes b'GGUF' at its start, "
                f"found {magic!r}. Fix: point at a real .gguf model (a renamed file of another "
                "kind does not work)."
            )
        raw_version = fh.read(4)
        if len(raw_version) != 4:
            raise ModelFileError(f"{path} is cut off right after its GGUF magic bytes.")
        version = struct.unpack("<I", raw_version)[0]
        endian = "<"
        # A big-endian file shows its small version number byte-swapped.
        if version > 0xFFFF and struct.unpack(">I", raw_version)[0] <= 0xFFFF:
            endian, version = ">", struct.unpack(">I", raw_version)[0]
        if version not in (2, 3):
            raise ModelFileError(
                f"{path}: GGUF version {version} is not supported (expected 2 or 3). Fix: "
                "convert the model again with a current llama.cpp."
            )
        reader = _Reader(fh, endian)
        try:
            tensor_count = reader.count(_MAX_TENSORS, "tensor count")
            kv_count = reader.count(_MAX_KV, "metadata count")
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = reader.string()
                type_id = int(reader.scalar("I"))
                metadata[key] = reader.value(type_id, max_array)
            n_parameters: int | None = None
            tensor_types: dict[str, int] = {}
            if read_tensors:
                n_parameters = 0
                for _ in range(tensor_count):
                    reader.skip_string()  # tensor name
                    n_dims = int(reader.scalar("I"))
                    if n_dims > _MAX_DIMS:
                        raise _CorruptError(f"implausible tensor rank {n_dims}")
                    elements = 1
                    for _ in range(n_dims):
                        elements *= int(reader.scalar("Q"))
                    ggml_type = int(reader.scalar("I"))
                    reader.scalar("Q")  # data offset
                    n_parameters += elements
                    type_name = _TENSOR_TYPE_NAMES.get(ggml_type, f"type{ggml_type}")
                    tensor_types[type_name] = tensor_types.get(type_name, 0) + 1
        except _CorruptError as exc:
            raise ModelFileError(
                f"{path} starts like a GGUF file but its header is corrupt: {exc}. Fix: download "
                "or pull the model again (`lamina models pull NAME --force`)."
            ) from exc
        except struct.error as exc:  # pragma: no cover - _read guards the lengths
            raise ModelFileError(f"{path}: unreadable GGUF header ({exc}).") from exc
    return GGUFInfo(
        path=path,
        version=version,
        tensor_count=tensor_count,
        metadata=metadata,
        size_bytes=size,
        n_parameters=n_parameters,
        tensor_types=dict(sorted(tensor_types.items(), key=lambda item: -item[1])),
    )
