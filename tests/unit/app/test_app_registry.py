"""The ML service and the model registry (churn.ml.registry), with a fake registry
client: the alias's version is loaded, a new one is swapped in without a restart,
an unreachable registry leaves the baked model served and says so."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from churn.config import Config
from churn.errors import ConfigError
from churn.ml.app import create_app
from churn.ml.model import ChurnModel
from churn.ml.publish import run_metrics, run_params
from churn.ml.registry import ModelHolder, RegistrySettings, wait_for
from churn.ml.train import TrainedModel, save, train

SETTINGS = RegistrySettings("http://mlflow:5000", "churn", "champion", 1.0)


class FakeRegistry:
    """Versions by number, each a trained model; `alias` marks one; `down` refuses."""

    def __init__(self) -> None:
        self.versions: dict[str, TrainedModel] = {}
        self.alias: str | None = None
        self.down = False
        self.downloads: list[str] = []
        self.broken: set[str] = set()

    def add(self, model: TrainedModel, promote: bool = True) -> str:
        version = str(len(self.versions) + 1)
        self.versions[version] = model
        if promote:
            self.alias = version
        return version

    def version_for_alias(self, name: str, alias: str) -> str | None:
        assert (name, alias) == ("churn", "champion")
        if self.down:
            raise ConnectionError("Connection refused")
        return self.alias

    def download(self, name: str, version: str, destination: Path) -> Path:
        self.downloads.append(version)
        target = destination / "model"
        if version in self.broken:
            target.mkdir(parents=True)
            return target
        save(self.versions[version], target)
        return target


@pytest.fixture(scope="module")
def other() -> TrainedModel:
    return train(seed=7, size=2000)


def test_settings_from_the_environment() -> None:
    assert RegistrySettings.from_env({}) is None
    s = RegistrySettings.from_env({"MLFLOW_TRACKING_URI": "http://mlflow:5000",
                                   "MODEL_REGISTRY_NAME": "churn", "MODEL_REGISTRY_ALIAS": "prod",
                                   "MODEL_REGISTRY_POLL_SECONDS": "5"})
    assert s == RegistrySettings("http://mlflow:5000", "churn", "prod", 5.0)
    for bad in ("0", "x", "-3", "1e9"):
        with pytest.raises(ConfigError, match="MODEL_REGISTRY_POLL_SECONDS"):
            RegistrySettings.from_env({"MLFLOW_TRACKING_URI": "http://m:1",
                                       "MODEL_REGISTRY_POLL_SECONDS": bad})


def test_the_alias_version_is_loaded_and_a_new_one_swapped(model: ChurnModel,
                                                            other: TrainedModel) -> None:
    fake = FakeRegistry()
    swaps: list[tuple[str | None, str | None]] = []
    holder = ModelHolder(model, SETTINGS, fake,
                         lambda old, new: swaps.append((old.registry_version, new.registry_version)))
    assert holder.current.source == "baked"
    # Nothing promoted yet: the baked model stays.
    assert holder.refresh() is False
    assert holder.current.source == "baked" and "no version has alias" in holder.current.status
    v1 = fake.add(other)
    assert holder.refresh() is True
    assert holder.current.source == "registry" and holder.current.registry_version == v1
    assert holder.current.model.version == other.metadata["version"]
    # Same version again: nothing downloaded twice.
    assert holder.refresh() is False and fake.downloads == [v1]
    v2 = fake.add(train(seed=8, size=2000))
    assert holder.refresh() is True and holder.current.registry_version == v2
    # Rolling the alias back is a new version to serve too.
    fake.alias = v1
    assert holder.refresh() is True and holder.current.registry_version == v1
    assert swaps == [(None, v1), (v1, v2), (v2, v1)]


def test_unreachable_registry_serves_the_baked_model_and_says_so(
        model: ChurnModel, other: TrainedModel, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeRegistry()
    fake.down = True
    holder = ModelHolder(model, SETTINGS, fake)
    with caplog.at_level("WARNING", logger="churn.ml.registry"):
        assert holder.refresh() is False
    assert holder.current.source == "baked"
    assert "registry unreachable at start" in holder.current.status
    assert "serving the baked model" in caplog.text
    # Still down at the next polls: said once, not at every poll.
    with caplog.at_level("WARNING", logger="churn.ml.registry"):
        caplog.clear()
        holder.refresh()
        holder.refresh()
    assert not caplog.records and "registry unreachable still" in holder.current.status
    # It comes back: the next poll loads the alias's version.
    fake.down = False
    fake.add(other)
    assert holder.refresh() is True and holder.current.source == "registry"
    # Down again: the registry's version stays served.
    fake.down = True
    assert holder.refresh() is False
    assert holder.current.source == "registry" and "keeping version 1" in holder.current.status


def test_a_version_that_does_not_load_is_not_served(model: ChurnModel,
                                                    other: TrainedModel) -> None:
    fake = FakeRegistry()
    fake.add(other)
    fake.broken.add(fake.add(other))
    holder = ModelHolder(model, SETTINGS, fake)
    assert holder.refresh() is False
    assert holder.current.source == "baked" and "cannot load version 2" in holder.current.status


def test_the_watcher_thread_polls_until_stopped(model: ChurnModel, other: TrainedModel) -> None:
    fake = FakeRegistry()
    holder = ModelHolder(model, RegistrySettings("http://m:1", "churn", "champion", 1.0), fake)
    stop = threading.Event()
    thread = holder.watch(stop)
    assert thread is not None
    fake.add(other)
    assert wait_for(lambda: holder.current.registry_version == "1", timeout=10)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_service_reports_and_serves_the_new_version(model: ChurnModel,
                                                        other: TrainedModel) -> None:
    fake = FakeRegistry()
    holder = ModelHolder(model, SETTINGS, fake)
    client = create_app(Config(secret_key="k"), model, holder=holder).test_client()
    body = client.get("/model").get_json()
    assert body["version"] == model.version
    assert body["registry"] | {"status": ""} == {
        "source": "baked", "status": "", "model_name": "churn", "alias": "champion",
        "version": None, "tracking_uri": "http://mlflow:5000", "poll_seconds": 1.0}
    fake.add(other)
    holder.refresh()
    customer = {"tenure_months": 2, "monthly_charges": 110.0, "total_charges": 220.0,
                "contract_type": "month-to-month", "support_calls": 5}
    answer = client.post("/predict", json={"customer": customer}).get_json()
    assert answer["model_version"] == other.metadata["version"]
    body = client.get("/model").get_json()
    assert body["registry"]["source"] == "registry" and body["registry"]["version"] == "1"
    assert client.get("/health").get_json()["registry_version"] == "1"
    text = client.get("/metrics").get_data(as_text=True)
    assert "churn_ml_model_registry_version 1.0" in text
    assert f'churn_ml_model_info{{version="{other.metadata["version"]}"}} 1.0' in text


def test_a_run_logs_parameters_metrics_and_importances(other: TrainedModel) -> None:
    params, metrics = run_params(other), run_metrics(other)
    assert params["seed"] == 7 and params["algorithm"] == "logistic-regression"
    assert set(metrics) >= {"auc", "accuracy"}
    importances: dict[str, Any] = other.metadata["feature_importances"]
    assert {f"importance_{k}" for k in importances} <= set(metrics)


def test_registry_commands_fail_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from churn import cli

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert cli.main(["promote", "3"]) == 2
    assert "MLFLOW_TRACKING_URI is not set" in capsys.readouterr().err
    # Nothing listens on port 9 here: one line, exit 1, no traceback.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert cli.main(["promote", "3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("churn promote: ") and "Traceback" not in err
    with pytest.raises(SystemExit):
        cli.main(["registry-export", "--last", "0"])
