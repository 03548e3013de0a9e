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
import functools
import hashlib
import importlib.util
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

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


# The lines of /proc/cpuinfo (x86-64's and aarch64's) that name the host CPU's model and features,
# for which LLVM compiles: code compiled on one host may not run on another.
_CPUINFO_KEYS = frozenset({
    "vendor_id", "cpu family", "model", "model name", "stepping", "flags",
    "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "CPU revision", "Features",
})


def _host_cpu() -> bytes:
    """The host's machine, and the model and features of its first processor. Read from
    /proc/cpuinfo rather than asked of LLVM, which a warm run does not load."""
    lines = [os.uname().machine]
    try:
        with open("/proc/cpuinfo") as f:
            first_processor = f.read().split("\n\n")[0]
    except OSError:
        first_processor = ""
    for line in first_processor.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in _CPUINFO_KEYS:
            lines.append(f"{key.strip()}: {value.strip()}")
    return "\n".join(lines).encode()


def _llvmlite_version() -> bytes:
    """llvmlite's version file, which names its release and so the LLVM it was built with;
    found without importing llvmlite."""
    spec = importlib.util.find_spec("llvmlite")
    if spec is None or not spec.submodule_search_locations:
        return b""
    try:
        return (Path(spec.submodule_search_locations[0]) / "_version.py").read_bytes()
    except OSError:
        return b""


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
        self.hits = 0
        self.rejected = 0

    @functools.cached_property
    def environment(self) -> bytes:
        """What every key covers besides the guest code: the translator (the emulated CPU's
        features are compiled into the runtime, which its digest covers), the host CPU and
        the LLVM that compiles."""
        return hashlib.sha256(_translator_digest() + _host_cpu() + _llvmlite_version()).digest()

    def key(self, code: list[tuple[int, bytes]]) -> str:
        """The key of a region made of blocks with these addresses and code bytes."""
        h = hashlib.sha256(self.environment)
        for addr, raw in code:
            h.update(struct.pack("<QQ", addr, len(raw)))
            h.update(raw)
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / "regions" / key[:2] / f"{key}.o"

    def load(self, key: str) -> RegionCode | None:
        """The region stored under key, if a sound file for it exists."""
        try:
            data = self._path(key).read_bytes()
        except OSError:
            return None
        region = _decode(data, key)
        if region is None:
            self.rejected += 1
        else:
            self.hits += 1
        return region

    def store(self, region: RegionCode) -> None:
        meta = json.dumps({"name": region.name, "blocks": region.blocks}).encode()
        payload = struct.pack("<I", len(meta)) + meta + region.obj
        header = _HEADER.pack(MAGIC, FORMAT, bytes.fromhex(region.key), len(payload),
                              hashlib.sha256(payload).digest())
        self._write(self._path(region.key), header + payload)

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
    for sub in ("regions", "programs"):
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
