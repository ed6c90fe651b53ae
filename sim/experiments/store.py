"""The run directory: what an experiment leaves on disk, written so a crash loses nothing finished.

Layout::

    scenario.yaml            the fully resolved scenario(s), enough to repeat the run
    manifest.json            settings, status, counts, timings (rewritten atomically)
    annual/<label>/chunk-00000.parquet    tidy rows: replication, year, variables
    outcomes/<label>/chunk-00000.parquet  per replication and target: value, first year met
    failures/<label>/chunk-00000.json     replications that raised, with seed and error
    done/<label>/chunk-00000.json         marker written last: the chunk is complete

Every file is written under a temporary name and renamed, so readers never see half a file, and a
chunk counts as finished only once its marker exists (``--resume`` reruns the others). A lock
(``flock`` on ``.lock``, released by the OS even on SIGKILL) keeps two runs out of one directory.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path

import pandas as pd

from sim.errors import InputError

DEFAULT_LABEL = "main"


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class RunStore:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_fh = None

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
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("not a seisim run directory (no manifest.json)",
                             file=str(self.path)) from None

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False))

    def update_manifest(self, **changes) -> dict:
        manifest = self.manifest()
        manifest.update(changes)
        self.write_manifest(manifest)
        return manifest

    # -- lock -------------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the directory's lock or fail with a one-line error naming the holder."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        fh = open(self.path / ".lock", "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise InputError(f"run directory is in use by {holder}; wait for it to finish or "
                             "choose another --out", file=str(self.path)) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"seisim pid {os.getpid()} on {socket.gethostname()}")
        fh.flush()
        self._lock_fh = fh

    def unlock(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    # -- chunks -----------------------------------------------------------------------------------
    def write_chunk(self, label: str, chunk: int, annual: pd.DataFrame,
                    outcomes: pd.DataFrame | None, failures: list[dict]) -> None:
        if len(annual):
            atomic_write_parquet(self._chunk_file("annual", label, chunk, "parquet"), annual)
        if outcomes is not None and len(outcomes):
            atomic_write_parquet(self._chunk_file("outcomes", label, chunk, "parquet"), outcomes)
        if failures:
            atomic_write_text(self._chunk_file("failures", label, chunk, "json"),
                              json.dumps(failures, indent=1))
        done = {"replications": int(annual["replication"].nunique()) if len(annual) else 0,
                "failures": len(failures)}
        atomic_write_text(self._chunk_file("done", label, chunk, "json"), json.dumps(done))

    def completed_chunks(self, label: str) -> set[int]:
        folder = self.path / "done" / (label or DEFAULT_LABEL)
        return {int(p.stem.split("-")[1]) for p in folder.glob("chunk-*.json")}

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
        folder = self.path / "failures" / (label or DEFAULT_LABEL)
        out: list[dict] = []
        for f in sorted(folder.glob("chunk-*.json")):
            out.extend(json.loads(f.read_text(encoding="utf-8")))
        return out

    def replications_done(self, label: str = "") -> int:
        folder = self.path / "done" / (label or DEFAULT_LABEL)
        return sum(json.loads(p.read_text())["replications"] for p in folder.glob("chunk-*.json"))
