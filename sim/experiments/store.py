"""The run directory: what an experiment leaves on disk, written so a crash loses nothing finished.

Layout::

    scenario.yaml            the fully resolved scenario(s), enough to repeat the run
    manifest.json            settings, status, counts, timings (rewritten atomically)
    annual/<label>/chunk-00000.parquet    tidy rows: replication, year, variables (not kept
                                          by designed experiments)
    outcomes/<label>/chunk-00000.parquet  per replication and target: value, first year met
                                          (and the design ``point``)
    failures/<label>/chunk-00000.json     replications that raised, with seed and error
    done/<label>/chunk-00000.json         marker written last: the chunk is complete, with the
                                          SHA-256 of each of its files

Every file is written under a temporary name and renamed, so readers never see half a file. A chunk
counts as finished only when its marker exists, parses, and every file it lists is present with its
checksum: a deleted, truncated or altered chunk is treated as unfinished, so ``--resume`` recomputes
it and readers never count it. A lock (an OS file lock on ``.lock``, released by the OS even on
SIGKILL; the holder is named in ``.lock-holder``) keeps two runs out of one directory.

Analysis commands (solve, sensitivity, discover) own their output directory through
:func:`claim_directory`: they create it, or reuse it only when the same analysis made it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path

import pandas as pd

from sim.errors import InputError
from sim.fingerprints import fingerprint

DEFAULT_LABEL = "main"


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` to ``path`` whole or not at all. Converted on this thread: a chunk's
    table is small, and a worker shares the machine with the other workers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False, nthreads=1), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


ANALYSIS_MARKER = "seisim-analysis.json"


def claim_directory(path: str | os.PathLike, kind: str, details: dict) -> Path:
    """Own ``path`` for one analysis (``kind``: solve, sensitivity, discover, design).

    A new or empty directory is created and marked with the analysis' fingerprint; a directory this
    same analysis made earlier (same kind and fingerprint) is reused, so finished work is kept.
    Anything else is refused in one line: a directory of a different analysis (its chunks would be
    reported under the wrong lever or target) or one seisim did not make (a user's files would be
    overwritten)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("--out names a file, not a directory", file=str(path))
    digest = fingerprint({"kind": kind, **details})
    marker = path / ANALYSIS_MARKER
    if path.is_dir() and any(path.iterdir()):
        try:
            stored = json.loads(marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"directory exists and was not made by this {kind}; choose another "
                             "--out (nothing written)", file=str(path)) from None
        except (OSError, ValueError):
            raise InputError(f"damaged {ANALYSIS_MARKER}; choose another --out",
                             file=str(path)) from None
        if stored.get("kind") != kind or stored.get("fingerprint") != digest:
            differ = sorted(k for k in set(details) | set(stored.get("details", {}))
                            if json.dumps(details.get(k), sort_keys=True, default=str)
                            != json.dumps(stored.get("details", {}).get(k), sort_keys=True,
                                          default=str))
            raise InputError(f"directory holds the results of a different "
                             f"{stored.get('kind', 'analysis')} (differs in: "
                             f"{', '.join(differ) or 'kind'}); choose another --out",
                             file=str(path))
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, json.dumps({"kind": kind, "fingerprint": digest,
                                              "details": details}, indent=1, ensure_ascii=False,
                                             default=str))
    except OSError as exc:
        raise InputError(f"cannot write the output directory: {exc.strerror}",
                         file=str(path)) from None
    return path


class RunStore:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_fh = None
        self._verified: dict[tuple, dict] = {}  # (marker, its mtime and size) -> marker

    # -- layout ---------------------------------------------------------------------------------
    def _chunk_file(self, kind: str, label: str, chunk: int, ext: str) -> Path:
        return self.path / kind / (label or DEFAULT_LABEL) / f"chunk-{chunk:05d}.{ext}"

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("not a seisim run directory (no manifest.json)",
                             file=str(self.path)) from None
        except (OSError, ValueError):
            raise InputError("manifest.json is damaged or not seisim's; choose another --out",
                             file=str(self.path)) from None
        if not isinstance(manifest, dict) or "settings" not in manifest:
            raise InputError("manifest.json is not a seisim run manifest", file=str(self.path))
        return manifest

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False))

    def update_manifest(self, **changes) -> dict:
        manifest = self.manifest()
        manifest.update(changes)
        self.write_manifest(manifest)
        return manifest

    # -- lock -------------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the directory's lock or fail with a one-line error naming the holder. The lock is
        an OS file lock (``filelock``: ``flock`` on Unix, ``msvcrt`` on Windows), released by the
        OS when the holder dies, even by SIGKILL."""
        from filelock import FileLock, Timeout

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.path / ".lock"), timeout=0)
            lock.acquire()
        except Timeout:
            try:
                holder = (self.path / ".lock-holder").read_text(encoding="utf-8").strip()
            except OSError:
                holder = ""
            raise InputError(f"run directory is in use by {holder or 'another process'}; wait "
                             "for it to finish or choose another --out", file=str(self.path)) \
                from None
        except OSError as exc:
            raise InputError(f"cannot write the run directory: {exc.strerror}",
                             file=str(self.path)) from None
        atomic_write_text(self.path / ".lock-holder",
                          f"seisim pid {os.getpid()} on {socket.gethostname()}")
        self._lock_fh = lock

    def unlock(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.release()
            self._lock_fh = None

    # -- chunks -----------------------------------------------------------------------------------
    def write_chunk(self, label: str, chunk: int, annual: pd.DataFrame,
                    outcomes: pd.DataFrame | None, failures: list[dict], *,
                    replications: int) -> None:
        """Store one finished chunk: ``replications`` is how many of its runs succeeded (a
        design's chunk counts point x replication runs and may keep no yearly rows)."""
        # A rerun of a damaged chunk must not inherit the old attempt's files.
        self._chunk_file("done", label, chunk, "json").unlink(missing_ok=True)
        for kind, ext in (("annual", "parquet"), ("outcomes", "parquet"), ("failures", "json")):
            self._chunk_file(kind, label, chunk, ext).unlink(missing_ok=True)
        if len(annual):
            atomic_write_parquet(self._chunk_file("annual", label, chunk, "parquet"), annual)
        if outcomes is not None and len(outcomes):
            atomic_write_parquet(self._chunk_file("outcomes", label, chunk, "parquet"), outcomes)
        if failures:
            atomic_write_text(self._chunk_file("failures", label, chunk, "json"),
                              json.dumps(failures, indent=1))
        files = {}
        for kind, ext in (("annual", "parquet"), ("outcomes", "parquet"), ("failures", "json")):
            f = self._chunk_file(kind, label, chunk, ext)
            if f.exists():
                files[str(f.relative_to(self.path))] = file_digest(f)
        done = {"replications": int(replications), "failures": len(failures), "files": files}
        atomic_write_text(self._chunk_file("done", label, chunk, "json"), json.dumps(done))

    def _marker(self, path: Path) -> dict | None:
        """A chunk's done marker if it is whole and every file it lists matches its checksum."""
        try:
            done = json.loads(path.read_text(encoding="utf-8"))
            files = done["files"]
            for rel, digest in files.items():
                if file_digest(self.path / rel) != digest:
                    return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return done

    def chunk_markers(self, label: str) -> dict[int, dict]:
        """Verified done markers by chunk number (see the module docstring)."""
        folder = self.path / "done" / (label or DEFAULT_LABEL)
        out = {}
        for p in folder.glob("chunk-*.json"):
            try:
                st = p.stat()
            except OSError:
                continue
            key = (str(p), st.st_mtime_ns, st.st_size)
            if key not in self._verified:  # each marker is verified once per store object
                self._verified[key] = self._marker(p)
            if self._verified[key] is not None:
                out[int(p.stem.split("-")[1])] = self._verified[key]
        return out

    def completed_chunks(self, label: str) -> set[int]:
        return set(self.chunk_markers(label))

    def damaged_chunks(self, label: str, completed: set[int]) -> list[int]:
        """Chunks with a done marker that fails verification (missing or altered files), given
        the ``completed`` (verified) ones."""
        folder = self.path / "done" / (label or DEFAULT_LABEL)
        marked = {int(p.stem.split("-")[1]) for p in folder.glob("chunk-*.json")}
        return sorted(marked - completed)

    def _read(self, kind: str, label: str, columns=None) -> pd.DataFrame:
        folder = self.path / kind / (label or DEFAULT_LABEL)
        done = self.completed_chunks(label)
        files = sorted(p for p in folder.glob("chunk-*.parquet")
                       if int(p.stem.split("-")[1]) in done)
        if not files:
            return pd.DataFrame(columns=columns) if columns else pd.DataFrame()
        return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)

    def read_annual(self, label: str = "", columns=None) -> pd.DataFrame:
        return self._read("annual", label, columns)

    def read_outcomes(self, label: str = "") -> pd.DataFrame:
        return self._read("outcomes", label)

    def failures(self, label: str = "") -> list[dict]:
        out: list[dict] = []
        for chunk in sorted(self.chunk_markers(label)):
            f = self._chunk_file("failures", label, chunk, "json")
            if f.exists():
                out.extend(json.loads(f.read_text(encoding="utf-8")))
        return out

    def replications_done(self, label: str = "") -> int:
        return sum(m["replications"] for m in self.chunk_markers(label).values())
