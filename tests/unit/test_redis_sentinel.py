"""Redis with Sentinels (redis.sentinel) next to the single Redis: model, topology,
configuration files, exporters, alerts and runbook, in both modes."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from infra_gen.artifacts import alerts, datastores
from infra_gen.artifacts.docs import outputs as docs_outputs
from infra_gen.errors import ConfigError
from infra_gen.loader import load_environment
from infra_gen.model import Environment
from infra_gen.project import Project
from infra_gen.render import header, jinja_environment
from infra_gen.topology import Topology, plan

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Project(ROOT)
SENTINELS = ("redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3")


def single(env: Environment) -> Environment:
    """The environment with one Redis (the mode without Sentinels)."""
    sentinel = env.redis.sentinel.model_copy(update={"enabled": False})
    return env.model_copy(update={"redis": env.redis.model_copy(update={"sentinel": sentinel})})


def topo(name: str, *, ha: bool = True) -> Topology:
    # dev runs one Redis (the stack tests use it); dev-ha is dev with the Sentinels.
    env = PROJECT.load("dev-ha" if name == "dev" and ha else name)
    return plan(env if ha else single(env))


def render(t: Topology, outputs: list) -> dict[str, str]:  # type: ignore[type-arg]
    jenv = jinja_environment(PROJECT.templates_dir)
    return {
        out.path: jenv.get_template(out.template).render(
            {"topo": t, "env": t.env, "header": lambda c="#": header(t.name, c), **out.context})
        for out in outputs
    }


def settings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# -- model ----------------------------------------------------------------------

def test_shipped_environments_run_sentinels() -> None:
    for name in ("dev-ha", "staging", "prod"):
        assert PROJECT.load(name).redis.sentinel.enabled, name
    assert not PROJECT.load("dev").redis.sentinel.enabled
    dev = PROJECT.load("dev-ha").redis.sentinel
    assert (dev.quorum, dev.down_after, dev.failover_timeout) == (2, "2s", "10s")
    prod = PROJECT.load("prod").redis.sentinel
    assert (prod.quorum, prod.down_after, prod.failover_timeout) == (2, "5s", "60s")


BAD = [
    pytest.param("redis: {sentinel: {quorum: 0}}\n",
                 "bad.yaml:2: redis.sentinel.quorum: expected greater than or equal to 1, got 0",
                 id="quorum-zero"),
    pytest.param("redis: {sentinel: {quorum: 4}}\n",
                 "bad.yaml:2: redis.sentinel.quorum: expected less than or equal to 3, got 4",
                 id="quorum-above-sentinels"),
    pytest.param("redis:\n  sentinel: {down_after: 30s, failover_timeout: 10s}\n",
                 "bad.yaml:3: redis.sentinel.failover_timeout: 10s must be longer than "
                 "down_after (30s)",
                 id="failover-before-detection"),
    pytest.param("redis:\n  sentinel: {down_after: 500ms}\n",
                 "bad.yaml:3: redis.sentinel.down_after: 500ms is shorter than 1s",
                 id="down-after-one-ping"),
    pytest.param("redis: {sentinel: {enable: true}}\n",
                 "bad.yaml:2: redis.sentinel.enable: unknown field; did you mean 'enabled'?",
                 id="unknown-field"),
    pytest.param("redis: {sentinel: {down_after: soon}}\n",
                 "bad.yaml:2: redis.sentinel.down_after: expected a duration such as 30s",
                 id="bad-duration"),
]


@pytest.mark.parametrize(("body", "expected"), BAD)
def test_bad_sentinel_settings_get_one_located_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, expected: str,
) -> None:
    d = tmp_path / "environments"
    d.mkdir()
    shutil.copy(ROOT / "environments" / "base.yaml", d / "base.yaml")
    path = d / "bad.yaml"
    path.write_text("extends: base\n" + textwrap.dedent(body))
    monkeypatch.chdir(d)
    with pytest.raises(ConfigError) as info:
        load_environment(path)
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 1 and expected in problems[0], problems


# -- topology ---------------------------------------------------------------------

def test_sentinel_topology() -> None:
    t = topo("dev")
    ha = t.redis_ha
    assert ha is not None and ha.nodes == ("redis", "redis-replica") and ha.sentinels == SENTINELS
    names = {c.name: c for c in t.containers}
    assert names["redis"].kind == "redis" and names["redis-replica"].kind == "redis-replica"
    for s in SENTINELS:
        c = names[s]
        assert c.command == ("sentinel",) and c.port == 26379
        env = dict(c.environment)
        assert env["REDIS_ANNOUNCE_HOST"] == s and env["REDIS_PORT"] == "26379"
        # A read-only root filesystem is enough: the rewritten file lives in /tmp.
        assert "/tmp" in c.tmpfs and all(m.read_only for m in c.mounts)
    # Each server keeps its own data and configuration.
    assert {m.source for m in names["redis"].mounts} == {"./redis/redis.conf", "redisdata"}
    assert {m.source for m in names["redis-replica"].mounts} == {
        "./redis/redis-replica.conf", "redisreplica"}
    for group in ("api", "worker"):
        env = dict(names[group].environment)
        assert "REDIS_HOST" not in env
        assert env["REDIS_SENTINELS"] == ",".join(f"{s}:26379" for s in SENTINELS)
        assert env["REDIS_MASTER_NAME"] == ha.master_name
        assert {d for d, _ in names[group].depends_on} >= {"redis", *SENTINELS}
    # No password in any environment: only the file's path.
    for c in t.containers:
        for key, value in c.environment:
            assert "PASSWORD" not in key or value.startswith("/run/secrets/"), (c.name, key)
    assert [r.port for r in t.firewall_rules if r.port in (6379, 26379)] == [6379, 26379]


def test_single_topology_is_unchanged() -> None:
    t = topo("dev", ha=False)
    assert t.redis_ha is None
    kinds = [c.kind for c in t.containers]
    assert kinds.count("redis") == 1 and "redis-replica" not in kinds
    assert "redis-sentinel" not in kinds
    api = dict(t.container("api").environment)
    assert (api["REDIS_HOST"], api["REDIS_PORT"]) == ("redis", "6379")
    assert "REDIS_SENTINELS" not in api
    assert 26379 not in [r.port for r in t.firewall_rules]


@pytest.mark.parametrize("ha", [True, False])
def test_one_exporter_per_redis_server_and_one_for_the_sentinels(ha: bool) -> None:
    t = topo("dev", ha=ha)
    servers, sentinels = t.redis_jobs()
    if ha:
        assert [(j.job, j.watches) for j in servers] == [
            ("redis", "redis"), ("redis-replica", "redis-replica")]
        assert [(j.job, j.watches) for j in sentinels] == [("redis-sentinel", "redis-sentinel-1")]
        exporter = t.container("redis-sentinel-exporter")
        assert dict(exporter.environment)["REDIS_ADDR"] == "redis://redis-sentinel-1:26379"
    else:
        assert [(j.job, j.watches) for j in servers] == [("redis", "redis")]
        assert sentinels == []


# -- configuration files ---------------------------------------------------------

def test_server_configurations_with_sentinels() -> None:
    t = topo("prod")
    files = render(t, datastores.outputs(t))
    assert {p for p in files if p.startswith("redis/")} == {
        "redis/redis.conf", "redis/redis-replica.conf", "redis/sentinel.conf"}
    primary = settings(files["redis/redis.conf"])
    replica = settings(files["redis/redis-replica.conf"])
    assert "replicaof redis 6379" in replica and not any(
        line.startswith("replicaof") for line in primary)
    assert "replica-announce-ip redis" in primary
    assert "replica-announce-ip redis-replica" in replica
    for conf in (primary, replica):
        # Sentinel reconfigures a server with MULTI/REPLICAOF/CONFIG REWRITE/EXEC:
        # CONFIG must answer or the failover never completes.
        disabled = {line.split()[1] for line in conf if line.startswith("rename-command")}
        assert disabled == {"DEBUG", "FLUSHALL", "FLUSHDB"}
        assert not any(re.match(r"(requirepass|masterauth)\b", line) for line in conf)


def test_sentinel_conf() -> None:
    t = topo("prod")
    conf = settings(render(t, datastores.outputs(t))["redis/sentinel.conf"])
    assert "sentinel monitor churn redis 6379 2" in conf
    assert "sentinel down-after-milliseconds churn 5000" in conf
    assert "sentinel failover-timeout churn 60000" in conf
    assert {"sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"} <= set(conf)
    # The entry point adds the password and the announced name at start.
    assert not any(re.search(r"requirepass|auth-pass|announce-ip", line) for line in conf)
    dev = topo("dev")
    conf = settings(render(dev, datastores.outputs(dev))["redis/sentinel.conf"])
    assert "sentinel down-after-milliseconds churn 2000" in conf


def test_single_redis_conf_keeps_config_disabled() -> None:
    t = topo("dev", ha=False)
    files = render(t, datastores.outputs(t))
    assert {p for p in files if p.startswith("redis/")} == {"redis/redis.conf"}
    conf = settings(files["redis/redis.conf"])
    assert 'rename-command CONFIG ""' in conf
    assert not any(line.startswith(("replicaof", "replica-")) for line in conf)


# -- alerts and runbook ------------------------------------------------------------

HA_ALERTS = {"RedisNoPrimary", "RedisSplitBrain", "RedisNoReplica", "RedisSentinelDown",
             "RedisSentinelQuorumLost"}


@pytest.mark.parametrize("ha", [True, False])
def test_failover_alerts_only_with_sentinels(ha: bool) -> None:
    rules = {a.name: a for a in alerts.alerts(topo("dev", ha=ha))}
    assert (set(rules) & HA_ALERTS) == (HA_ALERTS if ha else set())
    assert rules["RedisDown"].expr == (
        'redis_up{job=~"redis|redis-replica"} == 0' if ha else 'redis_up{job=~"redis"} == 0')
    if ha:
        assert rules["RedisNoPrimary"].expr == (
            'absent(redis_instance_info{job=~"redis|redis-replica",role="master"})')
        assert "+ 1 < 2" in rules["RedisSentinelQuorumLost"].expr
        assert rules["RedisSentinelDown"].expr == 'redis_up{job=~"redis-sentinel"} == 0'
        # The memory alert watches the servers, not the Sentinel.
        assert "redis-sentinel" not in rules["RedisMemoryHigh"].expr


@pytest.mark.parametrize("ha", [True, False])
def test_runbook_redis_procedure(ha: bool) -> None:
    t = topo("prod", ha=ha)
    runbook = render(t, docs_outputs(t))["RUNBOOK.md"]
    section = runbook.split("## 3. Redis lost", 1)[1].split("## 4.", 1)[0]
    if ha:
        assert "redis-auth-cli SENTINEL" not in section  # the command is in $SENTINEL
        assert "SENTINEL FAILOVER churn" in section
        assert "exec -T redis-sentinel-1 redis-auth-cli" in section
        clients = section.split("Its clients:", 1)[1].split(".\n", 1)[0].split(",")
        assert {c.strip() for c in clients} == {
            "api", "worker", "redis-exporter", "redis-replica-exporter", "redis-sentinel-exporter"}
    else:
        assert "Sentinel" not in section
        assert "up -d redis" in section


# -- both modes rendered in generated/ ---------------------------------------------

def test_generated_tree_shows_both_modes() -> None:
    def services(env: str) -> dict[str, dict]:  # type: ignore[type-arg]
        return dict(yaml.safe_load((ROOT / "generated" / env / "compose.yaml").read_text())[
            "services"])

    ha, one = services("dev-ha"), services("dev")
    assert {"redis", "redis-replica", *SENTINELS} <= set(ha)
    assert "redis" in one and not {"redis-replica", *SENTINELS} & set(one)
    assert ha["api"]["environment"]["REDIS_MASTER_NAME"] == "churn"
    assert one["api"]["environment"]["REDIS_HOST"] == "redis"
    assert sorted(p.name for p in (ROOT / "generated" / "dev" / "redis").iterdir()) == [
        "redis.conf"]
