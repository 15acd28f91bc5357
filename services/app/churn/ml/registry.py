"""The model registry (MLflow) as the ML service and `churn retrain` use it.

The ML service serves the version the registry's alias (`champion`) marks: a
ModelHolder asks the registry at start and then every MODEL_REGISTRY_POLL_SECONDS,
and swaps a new version in whole, without a restart. When the registry cannot be
reached at start it serves the model baked into the image, and says so (log, GET
/model, the churn_ml_model_registry_version metric at 0). The registry client is a
small protocol, so the logic is tested with a fake (tests/unit/app).

A model version's artifacts are the directory `churn train` writes (model.joblib
and metadata.json), logged under the run's `model` path and registered from there.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from churn.ml.model import ChurnModel

log = logging.getLogger("churn.ml.registry")

MODEL_ARTIFACT_PATH = "model"
"""Where a run keeps the model directory among its artifacts."""
EXPERIMENT = "churn"


@dataclass(frozen=True)
class RegistrySettings:
    tracking_uri: str
    model_name: str
    alias: str
    poll_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RegistrySettings | None:
        """The registry the environment names (MLFLOW_TRACKING_URI, MODEL_REGISTRY_*),
        or None: serve the baked model only."""
        env = os.environ if environ is None else environ
        uri = env.get("MLFLOW_TRACKING_URI") or ""
        if not uri:
            return None
        raw = env.get("MODEL_REGISTRY_POLL_SECONDS") or "30"
        try:
            poll = float(raw)
        except ValueError:
            poll = -1.0
        if not 1 <= poll <= 86_400:
            from churn.errors import ConfigError

            raise ConfigError(f"MODEL_REGISTRY_POLL_SECONDS must be 1-86400, got {raw!r}")
        return cls(uri, env.get("MODEL_REGISTRY_NAME") or "churn",
                   env.get("MODEL_REGISTRY_ALIAS") or "champion", poll)


class RegistryClient(Protocol):
    def version_for_alias(self, name: str, alias: str) -> str | None:
        """The version the alias marks; None when it marks none (nothing promoted).
        Raises when the registry cannot be asked."""

    def download(self, name: str, version: str, destination: Path) -> Path:
        """The version's model directory (model.joblib, metadata.json), downloaded."""


@dataclass(frozen=True)
class Served:
    """The model being served and where it came from."""

    model: ChurnModel
    source: str
    """registry | baked"""
    registry_version: str | None = None
    """The registered version number (None for the baked model)."""
    status: str = ""
    """Why this model: what the last look at the registry found."""

    def describe(self, settings: RegistrySettings | None) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "status": self.status}
        if settings is not None:
            out |= {"model_name": settings.model_name, "alias": settings.alias,
                    "version": self.registry_version, "tracking_uri": settings.tracking_uri,
                    "poll_seconds": settings.poll_seconds}
        return out


@dataclass
class ModelHolder:
    """The served model, swapped whole when the alias moves (one reference: a
    request that read `current` keeps a consistent model)."""

    baked: ChurnModel
    settings: RegistrySettings | None = None
    client: RegistryClient | None = None
    on_swap: Callable[[Served, Served], None] = lambda old, new: None
    current: Served = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _checked_once: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        status = ("no registry configured" if self.settings is None
                  else "registry not asked yet: serving the baked model")
        self.current = Served(self.baked, "baked", None, status)

    def refresh(self) -> bool:
        """Ask the registry which version the alias marks and load it if it is not
        the one served. True when the model was swapped. Never raises: a registry
        that cannot be asked keeps the model served, and the status says why."""
        if self.settings is None or self.client is None:
            return False
        with self._lock:
            first, self._checked_once = not self._checked_once, True
            s, old = self.settings, self.current
            try:
                version = self.client.version_for_alias(s.model_name, s.alias)
            except Exception as exc:  # any client or network failure
                reason = _one_line(exc)
                if old.source == "baked":
                    what = "at start" if first else "still"
                    status = f"registry unreachable {what} ({reason}): serving the baked model"
                    text = "unreachable at start" if first else "unreachable"
                else:
                    status = (f"registry unreachable ({reason}): keeping version "
                              f"{old.registry_version}")
                    text = "unreachable"
                # Logged when it becomes unreachable, not at every poll while it stays so.
                if first or not old.status.startswith("registry unreachable"):
                    log.warning("model registry %s %s (%s): serving the %s model %s",
                                s.tracking_uri, text, reason, old.source,
                                old.registry_version or old.model.version)
                self.current = Served(old.model, old.source, old.registry_version, status)
                return False
            if version is None:
                status = f"no version has alias {s.alias!r}: serving the {old.source} model"
                if first:
                    log.info("model registry: %s@%s marks no version yet: serving the %s model",
                             s.model_name, s.alias, old.source)
                self.current = Served(old.model, old.source, old.registry_version, status)
                return False
            if version == old.registry_version:
                if old.status != (ok := f"version {version} is {s.model_name}@{s.alias}"):
                    self.current = Served(old.model, old.source, version, ok)
                return False
            try:
                with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
                    model = ChurnModel.load(self.client.download(s.model_name, version,
                                                                 Path(tmp)))
            except Exception as exc:
                reason = _one_line(exc)
                log.error("model registry: cannot load %s version %s (%s): keeping the %s "
                          "model", s.model_name, version, reason, old.source)
                self.current = Served(old.model, old.source, old.registry_version,
                                      f"cannot load version {version} ({reason})")
                return False
            new = Served(model, "registry", version,
                         f"version {version} is {s.model_name}@{s.alias}")
            self.current = new
        log.info("model registry: now serving %s version %s (%s), was %s %s", s.model_name,
                 version, model.version, old.source, old.registry_version or old.model.version)
        self.on_swap(old, new)
        return True

    def watch(self, stop: threading.Event | None = None) -> threading.Thread | None:
        """A daemon thread: refresh now, then every poll interval until `stop` is set."""
        if self.settings is None or self.client is None:
            return None
        stop = stop or threading.Event()
        interval = self.settings.poll_seconds

        def loop() -> None:
            while True:
                self.refresh()
                if stop.wait(interval):
                    return

        thread = threading.Thread(target=loop, name="model-registry-watch", daemon=True)
        thread.start()
        return thread


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _quiet_client_environment() -> None:
    """MLflow's HTTP client retries a refused connection for minutes by default: one
    try, a short timeout (the watcher asks again at the next poll anyway)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


class MlflowRegistry:
    """RegistryClient on MLflow's client (mlflow-skinny), imported on first use."""

    def __init__(self, tracking_uri: str) -> None:
        _quiet_client_environment()
        self.tracking_uri = tracking_uri
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri,
                                        registry_uri=self.tracking_uri)
        return self._client

    def version_for_alias(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def download(self, name: str, version: str, destination: Path) -> Path:
        from mlflow.artifacts import download_artifacts

        uri = self.client.get_model_version_download_uri(name, version)
        return Path(download_artifacts(artifact_uri=uri, dst_path=str(destination),
                                       tracking_uri=self.tracking_uri))


def watched_holder(baked: ChurnModel, on_swap: Callable[[Served, Served], None],
                   settings: RegistrySettings | None = None) -> ModelHolder:
    """The ML service's holder: the registry of the environment (if any), watched."""
    settings = settings if settings is not None else RegistrySettings.from_env()
    client = MlflowRegistry(settings.tracking_uri) if settings else None
    holder = ModelHolder(baked, settings, client, on_swap)
    holder.watch()
    return holder


def wait_for(predicate: Callable[[], bool], timeout: float, pause: float = 0.05) -> bool:
    """Poll `predicate` until true or `timeout` seconds passed (tests, CLI)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
    return True
