"""Deployed models: versions per name, the active one, hot swap and rollback, kept on disk.

A name (``default``, ``credit-limit``) has versions 1, 2, ...; each version is one trained model
(a job's task) at this party. Deploying makes a new version and, unless told otherwise, makes it
active in one assignment: a request that already holds the old version finishes with it, the next
one gets the new one, so no request is dropped. A host keeps answering for every version it has
(the guest may still ask for the old one while it swaps). Rollback makes an earlier version
active again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.pipeline import Pipeline
from silobridge.bus.base import check_word
from silobridge.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelKey:
    job_id: str
    task: str

    def __str__(self) -> str:
        return f"{self.job_id}/{self.task}"


@dataclass
class Deployed:
    name: str
    version: int
    key: ModelKey
    component: str
    role: str
    parties: dict[str, list[int]]
    scorer: Any
    deployed_unix: float = field(default_factory=time.time)
    feature_table: str = ""
    pipeline: Pipeline = field(default_factory=Pipeline)

    @property
    def feature_names(self) -> list[str]:
        """The columns a score request names: the pipeline's input, else the model's own."""
        return self.pipeline.input_names(self.scorer.feature_names)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "job_id": self.key.job_id,
            "task": self.key.task,
            "component": self.component,
            "role": self.role,
            "parties": self.parties,
            "feature_table": self.feature_table,
            "pipeline": [s for s in ("scale", "selection") if getattr(self.pipeline, s) is not None],
            "deployed_unix": self.deployed_unix,
        }


class Registry:
    """Versions by name, the active version by name, and a host's index by model key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._versions: dict[str, dict[int, Deployed]] = {}
        self._active: dict[str, int] = {}
        self._by_key: dict[ModelKey, Deployed] = {}

    # ----- reads (the request path: dict lookups, no lock, no I/O) -----------------------------
    def active(self, name: str) -> Deployed:
        version = self._active.get(name)
        if version is None:
            raise NotFound(f"no model deployed under the name {name!r}")
        return self._versions[name][version]

    def for_key(self, key: ModelKey) -> Deployed | None:
        return self._by_key.get(key)

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for name, versions in sorted(self._versions.items()):
            for v in sorted(versions):
                d = versions[v].describe()
                d["active"] = self._active.get(name) == v
                out.append(d)
        return out

    # ----- changes (admin path) ----------------------------------------------------------------
    def next_version(self, name: str) -> int:
        check_word(name, "model name")
        return max(self._versions.get(name, {}), default=0) + 1

    def add(self, d: Deployed, files: dict[str, bytes], *, activate: bool) -> None:
        """Keep ``d`` (its files first, so a crash leaves no version without them) and swap."""
        folder = self._folder(d.name, d.version)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for fname, data in files.items():
            (tmp / fname).write_bytes(data)
        (tmp / "meta.json").write_text(json.dumps(d.describe()))
        os.replace(tmp, folder)
        self._versions.setdefault(d.name, {})[d.version] = d
        self._by_key[d.key] = d
        if activate:
            self.activate(d.name, d.version)

    def activate(self, name: str, version: int) -> Deployed:
        versions = self._versions.get(name)
        if not versions:
            raise NotFound(f"no model deployed under the name {name!r}")
        if version not in versions:
            raise NotFound(f"model {name!r} has no version {version} (versions: {sorted(versions)})")
        self._active[name] = version  # the swap: one assignment
        self._write_active(name, version)
        log.info("model %s version %d active", name, version, extra={"event": "model_active"})
        return versions[version]

    def rollback(self, name: str, version: int | None = None) -> Deployed:
        """Make ``version`` (default: the newest one before the active one) active again."""
        current = self.active(name).version
        if version is None:
            older = [v for v in self._versions[name] if v < current]
            if not older:
                raise Conflict(f"model {name!r} has no version before {current} to roll back to")
            version = max(older)
        return self.activate(name, version)

    def remove(self, name: str, version: int) -> None:
        versions = self._versions.get(name, {})
        if version not in versions:
            raise NotFound(f"model {name!r} has no version {version}")
        if self._active.get(name) == version:
            raise Conflict(f"version {version} of {name!r} is active: activate another one first")
        d = versions.pop(version)
        if self._by_key.get(d.key) is d:
            del self._by_key[d.key]
        shutil.rmtree(self._folder(name, version), ignore_errors=True)

    # ----- disk ----------------------------------------------------------------------------------
    def _folder(self, name: str, version: int) -> Path:
        return self.root / name / f"v{version}"

    def _write_active(self, name: str, version: int) -> None:
        path = self.root / name / "active"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(str(version))
        os.replace(tmp, path)

    def stored(self) -> list[tuple[dict[str, Any], Path]]:
        """(meta, folder) of every version on disk, for the service to rebuild at start."""
        out: list[tuple[dict[str, Any], Path]] = []
        if not self.root.is_dir():
            return out
        for name_dir in sorted(self.root.iterdir()):
            for vdir in sorted(name_dir.glob("v*")):
                meta = vdir / "meta.json"
                if vdir.is_dir() and meta.is_file() and not vdir.name.endswith(".tmp"):
                    out.append((json.loads(meta.read_text()), vdir))
        return out

    def restore(self, d: Deployed) -> None:
        self._versions.setdefault(d.name, {})[d.version] = d
        self._by_key[d.key] = d
        active = self.root / d.name / "active"
        if active.is_file():
            try:
                self._active[d.name] = int(active.read_text().strip())
            except ValueError:
                raise InvalidInput(f"{active}: not a version number") from None
