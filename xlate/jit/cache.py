"""The persistent code cache: compiled regions on disk, so that a second run starts warm.

A region's file holds its object code, named by a hash of everything that would change it: the
guest code bytes and addresses of its blocks, the translator's own source, the emulated CPU's
features and the host CPU. A file is trusted only after its header, length and checksum are
checked; anything else in the directory (truncated, corrupt, foreign, of another version) is
ignored. Files are written to a temporary name and renamed, so concurrent runs sharing one
directory never see half a file.

Per program, a manifest lists the regions compiled for it, with their blocks, so that a run can
install them before the guest starts; each is checked against the guest's code bytes first.

A warm run reads the cache before the guest's first instruction, so this module keeps off that
path what it can: paths are strings (pathlib costs milliseconds to import), tempfile is imported
to write, and the translator's digest is remembered between runs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import struct
import sys
import time

import xlate
from xlate.jit.llvm import llvmlite_version_file
from xlate.records import named_tuple

MAGIC = b"XLATEOBJ"
FORMAT = 5  # 5: region metadata marshalled, threaded code in program data unmarshalled
_HEADER = struct.Struct("<8sI32sQ32s")  # magic, format, key, payload length, payload sha256


# A file modified this recently may be modified again within the same tick of the file system's
# clock, leaving its time as it was: a digest over it is not remembered.
_SETTLED_SECONDS = 2.0


def cache_dir() -> str:
    """Where the cache lives; absolute, as the guest may change the working directory."""
    return os.path.abspath(os.environ.get("XLATE_CACHE_DIR")
                           or os.path.expanduser(os.path.join("~", ".cache", "xlate")))


def _translator_files() -> list[tuple[str, str]]:
    """(name relative to the package, path) of the translator's source and runtime files."""
    package = os.path.dirname(xlate.__file__)
    found = []
    for root, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or (root == package and name.startswith("_runtime")):
                path = os.path.join(root, name)
                found.append((os.path.relpath(path, package), path))
    return found


def _translator_digest(memo_path: str) -> tuple[bytes, bytes | None]:
    """A hash of the translator's source and runtime (any change to either is a new version),
    and the memo to keep in memo_path (None: keep none) so that the next run need not read
    them: the hash with each file's size, modification time and inode, which a change alters."""
    files = _translator_files()
    stats = [(name, os.stat(path)) for name, path in files]
    # The memo: the digest's hex on its first line, then this, a line for each file.
    identity = f"{xlate.__file__}\n" + "".join(
        f"{name}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ino}\n" for name, st in stats)
    with contextlib.suppress(OSError, ValueError):
        with open(memo_path, "rb") as f:
            digest, _, memo = f.read().decode().partition("\n")
        if memo == identity and len(digest) == 64:
            return bytes.fromhex(digest), None
    h = hashlib.sha256(xlate.__version__.encode())
    for name, path in files:
        h.update(name.encode())
        with open(path, "rb") as f:
            h.update(f.read())
    settled = time.time() - _SETTLED_SECONDS
    if any(st.st_mtime_ns > settled * 1e9 for _, st in stats):
        return h.digest(), None
    return h.digest(), f"{h.hexdigest()}\n{identity}".encode()


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


@named_tuple
class RegionCode:
    """A compiled region as the cache keeps it."""
    key: str                        # hex sha256
    name: str                       # the function's symbol in the object
    blocks: tuple[tuple[int, int], ...]  # (guest address, size in bytes) of each block
    # The blocks the region is entered at; the others are copies of code that another region
    # is entered at, inlined here (a callee) so that control stays in this region's code.
    entries: tuple[int, ...]
    obj: bytes
    # Which guest instruction the host code is, from an offset on (xlate.jit.lines.pc_rows).
    pcs: tuple[tuple[int, int], ...] = ()
    # Quickly compiled code: where it counts its entries and loops (cpu->hot_counts), to be
    # optimised once that is high (xlate.jit.engine.QUICK_LEVEL); None: optimised code.
    slot: int | None = None


class CodeCache:
    """Regions on disk under one directory; never raises for what it finds there."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = os.fspath(directory)
        self.writable = True
        self.hits = 0
        self.rejected = 0
        self._manifests: dict[str, list[str]] = {}  # as read, to write only what changed

    @functools.cached_property
    def environment(self) -> bytes:
        """What every key covers besides the guest code: the translator (the emulated CPU's
        features are compiled into the runtime, which its digest covers), the host CPU and
        the LLVM that compiles."""
        memo_path = os.path.join(self.directory, "translator")
        translator, memo = _translator_digest(memo_path)
        if memo is not None:
            self._write(memo_path, memo)
        return hashlib.sha256(translator + _host_cpu() + llvmlite_version_file()).digest()

    def key(self, code: list[tuple[int, bytes]], check_stores: bool = False,
            entries: tuple[int, ...] = ()) -> str:
        """The key of a region made of blocks with these addresses and code bytes, entered at
        the entries, compiled with or without checks of its stores for self-modifying code."""
        h = hashlib.sha256(self.environment + bytes([check_stores]))
        h.update(struct.pack(f"<{len(entries)}Q", *entries))
        for addr, raw in code:
            h.update(struct.pack("<QQ", addr, len(raw)))
            h.update(raw)
        return h.hexdigest()

    def support_key(self) -> str:
        """The key of the support module's code (xlate.jit.support), which depends on the
        translator and the host alone."""
        return self.key([])

    def _path(self, key: str, kind: str) -> str:
        return os.path.join(self.directory, kind, key[:2], f"{key}.o")

    def load(self, key: str, kind: str = "regions") -> RegionCode | None:
        """The region stored under key, if a sound file for it exists (kind "support": the
        support module's code, stored as a region without blocks)."""
        try:
            with open(self._path(key, kind), "rb") as f:
                data = f.read()
        except OSError:
            return None
        region = _decode(data, key)
        if region is None:
            self.rejected += 1
        else:
            self.hits += 1
        return region

    def store(self, region: RegionCode, kind: str = "regions") -> None:
        meta = marshal.dumps((region.name, region.blocks, region.entries, region.pcs,
                              region.slot))
        payload = struct.pack("<I", len(meta)) + meta + region.obj
        self._write(self._path(region.key, kind), _seal(region.key, payload))

    # -- per program: decoded blocks, Python functions ----------------------------------------

    def _program_path(self, program_digest: str, kind: str) -> tuple[str, str]:
        # Python's code objects are also the Python version's.
        version = sys.version.encode() if kind == "python" else b""
        key = hashlib.sha256(self.environment + program_digest.encode() + kind.encode()
                             + version).hexdigest()
        return os.path.join(self.directory, "programs", f"{program_digest}.{kind}"), key

    def load_program_data(self, program_digest: str, kind: str) -> bytes | None:
        """What an earlier run of the program exported of a kind ("blocks": the decoder's,
        Decoder.export; "python": the Python functions', PyBlocks.export), if a sound file of
        this translator's holds it."""
        path, key = self._program_path(program_digest, kind)
        try:
            with open(path, "rb") as f:
                return _unseal(f.read(), key)
        except OSError:
            return None

    def store_program_data(self, program_digest: str, kind: str, data: bytes) -> None:
        path, key = self._program_path(program_digest, kind)
        self._write(path, _seal(key, data))

    def _write(self, path: str, data: bytes) -> None:
        if not self.writable:
            return
        import tempfile

        temporary = None
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), prefix=".tmp-",
                                             delete=False) as f:
                temporary = f.name
                f.write(data)
            os.replace(temporary, path)
        except OSError:  # a read-only or full cache: run without saving
            self.writable = False
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    # -- manifests ---------------------------------------------------------------------------

    def _manifest_path(self, program_digest: str) -> str:
        return os.path.join(self.directory, "programs", f"{program_digest}.manifest")

    def manifest(self, program_digest: str) -> list[str]:
        """Keys of the regions compiled for a program in earlier runs (a line each)."""
        try:
            with open(self._manifest_path(program_digest), "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:
            return []
        keys = [k.decode() for k in lines if len(k) == 64
                and all(c in b"0123456789abcdef" for c in k)]
        self._manifests[program_digest] = keys
        return keys

    def save_manifest(self, program_digest: str, keys: list[str]) -> None:
        """Remember the keys of a program's regions, in the order they were compiled in."""
        keys = list(dict.fromkeys(keys))
        if keys != self._manifests.get(program_digest):
            self._write(self._manifest_path(program_digest),
                        "".join(f"{key}\n" for key in keys).encode())

    # -- management --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        regions = _files(os.path.join(self.directory, "regions"), ".o")
        programs = _files(os.path.join(self.directory, "programs"), ".manifest")
        others = (_files(os.path.join(self.directory, "programs"), ".blocks")
                  + _files(os.path.join(self.directory, "programs"), ".python")
                  + _files(os.path.join(self.directory, "support"), ".o"))
        return {"regions": len(regions), "programs": len(programs),
                "bytes": sum(os.path.getsize(p) for p in regions + programs + others)}


def _files(directory: str, suffix: str) -> list[str]:
    """Paths of the files under directory whose names end in suffix (not temporary files)."""
    return [os.path.join(root, name) for root, _, names in os.walk(directory) for name in names
            if name.endswith(suffix) and not name.startswith(".tmp-")]


def _seal(key: str, payload: bytes) -> bytes:
    """A cache file's contents: a header that names the key and checksums the payload."""
    return _HEADER.pack(MAGIC, FORMAT, bytes.fromhex(key), len(payload),
                        hashlib.sha256(payload).digest()) + payload


def _unseal(data: bytes, key: str) -> bytes | None:
    """The payload of a cache file, if it is sound and of this key."""
    if len(data) < _HEADER.size:
        return None
    magic, version, stored_key, length, digest = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if (magic != MAGIC or version != FORMAT or stored_key.hex() != key or length != len(payload)
            or hashlib.sha256(payload).digest() != digest):
        return None
    return payload


def _decode(data: bytes, key: str) -> RegionCode | None:
    payload = _unseal(data, key)
    if payload is None:
        return None
    try:
        (meta_length,) = struct.unpack_from("<I", payload)
        name, blocks, entries, pcs, slot = marshal.loads(payload[4:4 + meta_length])
        blocks = tuple((int(a), int(s)) for a, s in blocks)
        entries = tuple(int(a) for a in entries)
        pcs = tuple((int(offset), int(pc)) for offset, pc in pcs)
        slot = None if slot is None else int(slot)
        if not {a for a, _ in blocks} >= set(entries):
            return None
        return RegionCode(key, str(name), blocks, entries, payload[4 + meta_length:], pcs, slot)
    except (ValueError, EOFError, TypeError, struct.error):
        return None


def clear(directory: str | os.PathLike) -> int:
    """Remove the cache's files; returns how many."""
    removed = 0
    for sub in ("regions", "support", "programs"):
        for root, dirs, names in os.walk(os.path.join(directory, sub), topdown=False):
            for name in names:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(root, name))
                    removed += 1
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, name))
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(directory, sub))
    for name in ("translator", "translator.json"):  # (the memo; its name before FORMAT 5)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
            removed += 1
    return removed
