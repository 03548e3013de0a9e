"""The persistent code cache: compiled regions on disk, so that a second run starts warm.

A region's file holds its object code, named by a hash of everything that would change it: the
guest code bytes and addresses of its blocks, the translator's own source, the emulated CPU's
features and the host CPU. A file is trusted only after its header, length and checksum are
checked; anything else in the directory (truncated, corrupt, foreign, of another version) is
ignored. Files are written to a temporary name and renamed, so concurrent runs sharing one
directory never see half a file.

Per program, a manifest lists the regions compiled for it, with their blocks, so that a run can
install them before the guest starts; each is checked against the guest's code bytes first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import llvmlite.binding as llvm

import xlate

MAGIC = b"XLATEOBJ"
FORMAT = 1
_HEADER = struct.Struct("<8sI32sQ32s")  # magic, format, key, payload length, payload sha256


def cache_dir() -> Path:
    """Where the cache lives; absolute, as the guest may change the working directory."""
    return Path(os.environ.get("XLATE_CACHE_DIR") or Path.home() / ".cache" / "xlate").absolute()


def _translator_digest() -> bytes:
    """A hash of the translator's source and runtime: any change to either is a new version."""
    h = hashlib.sha256(xlate.__version__.encode())
    package = Path(xlate.__file__).parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    for path in sorted(package.glob("_runtime*")):
        h.update(path.read_bytes())
    return h.digest()


@dataclass(frozen=True)
class RegionCode:
    """A compiled region as the cache keeps it."""
    key: str                        # hex sha256
    name: str                       # the function's symbol in the object
    blocks: tuple[tuple[int, int], ...]  # (guest address, size in bytes) of each block
    obj: bytes


class CodeCache:
    """Regions on disk under one directory; never raises for what it finds there."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writable = True
        # The emulated CPU's features are compiled into the runtime, which the digest covers.
        host = (llvm.get_host_cpu_name() + llvm.get_host_cpu_features().flatten()).encode()
        self.environment = hashlib.sha256(
            _translator_digest() + host + repr(llvm.llvm_version_info).encode()).digest()
        self.hits = 0
        self.rejected = 0

    def key(self, code: list[tuple[int, bytes]], check_stores: bool = False) -> str:
        """The key of a region made of blocks with these addresses and code bytes, compiled
        with or without checks of its stores for self-modifying code."""
        h = hashlib.sha256(self.environment + bytes([check_stores]))
        for addr, raw in code:
            h.update(struct.pack("<QQ", addr, len(raw)))
            h.update(raw)
        return h.hexdigest()

    def support_key(self) -> str:
        """The key of the support module's code (xlate.jit.support), which depends on the
        translator and the host alone."""
        return self.key([])

    def _path(self, key: str, kind: str) -> Path:
        return self.directory / kind / key[:2] / f"{key}.o"

    def load(self, key: str, kind: str = "regions") -> RegionCode | None:
        """The region stored under key, if a sound file for it exists (kind "support": the
        support module's code, stored as a region without blocks)."""
        try:
            data = self._path(key, kind).read_bytes()
        except OSError:
            return None
        region = _decode(data, key)
        if region is None:
            self.rejected += 1
        else:
            self.hits += 1
        return region

    def store(self, region: RegionCode, kind: str = "regions") -> None:
        meta = json.dumps({"name": region.name, "blocks": region.blocks}).encode()
        payload = struct.pack("<I", len(meta)) + meta + region.obj
        header = _HEADER.pack(MAGIC, FORMAT, bytes.fromhex(region.key), len(payload),
                              hashlib.sha256(payload).digest())
        self._write(self._path(region.key, kind), header + payload)

    def _write(self, path: Path, data: bytes) -> None:
        if not self.writable:
            return
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as f:
                temporary = f.name
                f.write(data)
            os.replace(temporary, path)
        except OSError:  # a read-only or full cache: run without saving
            self.writable = False
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    # -- manifests ---------------------------------------------------------------------------

    def _manifest_path(self, program_digest: str) -> Path:
        return self.directory / "programs" / f"{program_digest}.json"

    def manifest(self, program_digest: str) -> list[str]:
        """Keys of the regions compiled for a program in earlier runs."""
        try:
            keys = json.loads(self._manifest_path(program_digest).read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(keys, list):
            return []
        return [k for k in keys if isinstance(k, str) and len(k) == 64
                and all(c in "0123456789abcdef" for c in k)]

    def save_manifest(self, program_digest: str, keys: list[str]) -> None:
        self._write(self._manifest_path(program_digest), json.dumps(sorted(set(keys))).encode())

    # -- management --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        regions = list((self.directory / "regions").glob("*/*.o"))
        programs = list((self.directory / "programs").glob("*.json"))
        return {"regions": len(regions), "programs": len(programs),
                "bytes": sum(p.stat().st_size for p in regions + programs)}


def _decode(data: bytes, key: str) -> RegionCode | None:
    if len(data) < _HEADER.size:
        return None
    magic, version, stored_key, length, digest = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if (magic != MAGIC or version != FORMAT or stored_key.hex() != key or length != len(payload)
            or hashlib.sha256(payload).digest() != digest):
        return None
    try:
        (meta_length,) = struct.unpack_from("<I", payload)
        meta = json.loads(payload[4:4 + meta_length])
        blocks = tuple((int(a), int(s)) for a, s in meta["blocks"])
        return RegionCode(key, str(meta["name"]), blocks, payload[4 + meta_length:])
    except (ValueError, KeyError, TypeError, struct.error):
        return None


def clear(directory: Path) -> int:
    """Remove the cache's files; returns how many."""
    removed = 0
    for sub in ("regions", "support", "programs"):
        for path in sorted((directory / sub).rglob("*"), reverse=True):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink()
                    removed += 1
            except OSError:
                pass
    return removed
