"""Alert rules and their promtool unit tests, as one table of `Alert` specs.

Every alert is built from the topology and env.monitoring.thresholds together with
two promtool test cases (one that fires, one that stays quiet) whose input values
are computed from the same thresholds, so the tests stay right when a threshold
changes. `alerts(topo)` is built once per render; the rule file and the test file
are both formatted from that one list.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from ..contract import (
    API_LATENCY,
    API_REQUESTS,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    LABELLED_PREDICTIONS,
    LB_REQUESTS,
    LIVE_ACCURACY,
    LIVE_ACCURACY_DAYS,
    LIVE_ACCURACY_MIN_LABELLED,
    ML_DRIFT,
    ML_LATENCY,
    ML_PREDICTED_ROWS,
    NOT_DISKS,
    SCORE_TASK,
    TASKS_FAILED,
    TASKS_SUCCEEDED,
)
from ..model import duration_seconds
from ..topology import PORTS, ScrapeJob, Topology
from .scrape import instance_of


@dataclass(frozen=True)
class Case:
    series: tuple[tuple[str, str], ...]
    """(series, promtool values) pairs fed to the rule."""
    alerts: tuple[dict[str, str], ...]
    """Labels of each expected alert (besides alertname and severity)."""


@dataclass(frozen=True)
class Alert:
    group: str
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    fires: Case
    quiet: Case
    service: str | None = None
    """The service group a per-group rule watches (a label: rules stay distinct)."""
    also_quiet: tuple[tuple[str, Case], ...] = ()
    """More cases in which the rule must stay quiet, each with what it shows."""

    @property
    def labels(self) -> dict[str, str]:
        extra = {"service": self.service} if self.service else {}
        return {"severity": self.severity, **extra}

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": self.labels,
            "annotations": {"summary": self.summary, "description": self.description},
        }


def _num(value: float) -> str:
    return f"{value:.10g}"


def _sel(metric: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


_UNITS = {"ms": "millisecond", "s": "second", "m": "minute", "h": "hour", "d": "day"}


def _spoken(duration: str) -> str:
    """30s -> 30 seconds, 1m -> 1 minute (the `for:` of a rule, in its description)."""
    match = re.fullmatch(r"([0-9]+)([a-z]+)", duration)
    assert match is not None, duration
    number, unit = match.groups()
    return f"{int(number)} {_UNITS[unit]}{'' if int(number) == 1 else 's'}"


def _pct(value: float) -> str:
    return f"{value * 100:g}%"


def _shares(bad: str, good: str, labels: dict[str, str], share: float, fire: bool,
            **bad_labels: str) -> Case:
    """Counters growing 100 events a minute, `share` of them bad."""
    return Case(
        ((_sel(bad, **{**labels, **bad_labels}), f"0+{_num(100 * share)}x40"),
         (_sel(good, **labels), f"0+{_num(100 * (1 - share))}x40")),
        ({"job": labels["job"]},) if fire else (),
    )


def _histogram(metric: str, labels: dict[str, str], threshold: float, fire: bool) -> Case:
    """Buckets t/2, t, 2t, +Inf; all observations in (t, 2t] (p95 = 1.95t) or in
    (t/2, t] (p95 = 0.975t)."""
    counts = (0, 0, 100, 100) if fire else (0, 100, 100, 100)
    les = (_num(threshold / 2), _num(threshold), _num(threshold * 2), "+Inf")
    return Case(
        tuple((_sel(metric, **labels, le=le), f"0+{n}x40") for le, n in zip(les, counts, strict=True)),
        ({"job": labels["job"]},) if fire else (),
    )


def _gauge(metric: str, labels: dict[str, str], value: float, expect: dict[str, str] | None) -> Case:
    return Case(((_sel(metric, **labels), f"{_num(value)}x40"),), (expect,) if expect else ())


def _accuracy(topo: Topology, g: str) -> list[Alert]:
    """The model's accuracy on real outcomes (the API counts them), not the constant
    from training: it fires once enough labelled predictions say it is low."""
    api = [j for j in topo.jobs_with("http")]
    if not api:
        return []
    env, acc, least = topo.env, topo.env.monitoring.thresholds.min_model_accuracy, \
        LIVE_ACCURACY_MIN_LABELLED
    sel = f'job=~"{"|".join(j.job for j in api)}"'
    lab = {"job": api[0].job, "instance": instance_of(api[0])}
    # Every API replica reports the same database-wide figures: max, not a sum.
    expr = (f"max({LIVE_ACCURACY}{{{sel}}}) < {_num(acc)}"
            f" and on() max({LABELLED_PREDICTIONS}{{{sel}}}) >= {least}")
    low = (_sel(LIVE_ACCURACY, **lab), f"{_num(acc / 2)}x40")
    return [Alert(
        g, "ModelAccuracyLow", expr, env.monitoring.alert_for.drift, "warning",
        f"{g}: live model accuracy below {_num(acc)} ({env.name})",
        f"Of the predictions in {env.name} whose real outcome was recorded in the last "
        f"{LIVE_ACCURACY_DAYS} days (at least {least}), fewer than {_num(acc * 100)}% were right: retrain or "
        "roll back the model.",
        Case((low, (_sel(LABELLED_PREDICTIONS, **lab), f"{least * 2}x40")), ({},)),
        # As wrong, but too few outcomes to say so.
        Case((low, (_sel(LABELLED_PREDICTIONS, **lab), f"{least - 1}x40")), ()),
        service=g)]


def alerts(topo: Topology) -> list[Alert]:
    env, t, wait = topo.env, topo.env.monitoring.thresholds, topo.env.monitoring.alert_for
    out: list[Alert] = []
    # One rule for every job: `up` is per target already. The test downs every target.
    targets = [{"job": j.job, "instance": instance_of(j)} for j in topo.scrape_jobs]
    out.append(Alert(
        "targets", "TargetDown", "up == 0", wait.target_down, "critical",
        f"{{{{ $labels.instance }}}} of job {{{{ $labels.job }}}} is down ({env.name})",
        f"Prometheus in {env.name} has not scraped {{{{ $labels.instance }}}} "
        f"(job {{{{ $labels.job }}}}) for {_spoken(wait.target_down)}.",
        Case(tuple((_sel("up", **lab), "0x40") for lab in targets), tuple(targets)),
        Case(tuple((_sel("up", **lab), "1x40") for lab in targets), ())))
    # The bundled API's metrics, and the conventional ones a service of your own serves.
    for family, requests, latency, labels in (
        ("http", API_REQUESTS, API_LATENCY, {"method": "GET", "route": "/api/customers/"}),
        ("generic", HTTP_REQUESTS, HTTP_LATENCY, {"method": "GET"}),
    ):
        for job in topo.jobs_with(family):
            out += _http_alerts(topo, job, requests, latency, labels)
    for job in topo.jobs_with("tasks"):
        g, lab = job.job, {"job": job.job, "instance": instance_of(job)}
        tl, sel = dict(lab, task=SCORE_TASK), f'job="{g}"'
        failed = f"sum by (job) (rate({TASKS_FAILED}{{{sel}}}[5m]))"
        done = f"sum by (job) (rate({TASKS_SUCCEEDED}{{{sel}}}[5m]))"
        out.append(Alert(
            g, "TaskFailures", f"{failed} / ({failed} + {done}) > {_num(t.task_failure_rate)}",
            wait.sustained, "warning", f"{g}: more than {_pct(t.task_failure_rate)} of tasks fail "
            f"({env.name})",
            f"Over the last 5 minutes more than {_pct(t.task_failure_rate)} of the Celery "
            f"tasks of {g} in {env.name} failed for good.",
            _shares(TASKS_FAILED, TASKS_SUCCEEDED, tl, (1 + t.task_failure_rate) / 2, True),
            _shares(TASKS_FAILED, TASKS_SUCCEEDED, tl, t.task_failure_rate / 2, False), service=g))
    for job in topo.jobs_with("ml"):
        g, lab = job.job, {"job": job.job, "instance": instance_of(job)}
        sel, thr = f'job="{g}"', t.prediction_latency_p95_seconds
        out.append(Alert(
            g, "SlowPredictions",
            f"histogram_quantile(0.95, sum by (job, le) (rate({ML_LATENCY}{{{sel}}}[5m])))"
            f" > {_num(thr)}", wait.sustained, "warning",
            f"{g}: p95 prediction latency above {_num(thr)}s ({env.name})",
            f"The 95th percentile prediction time of {g} in {env.name} has been above "
            f"{_num(thr)}s for {_spoken(wait.sustained)}.",
            _histogram(ML_LATENCY, dict(lab, kind="single"), thr, True),
            _histogram(ML_LATENCY, dict(lab, kind="single"), thr, False), service=g))
        out += _accuracy(topo, g)
        psi, fl = t.drift_psi, dict(lab, feature="tenure_months")
        least, window = t.drift_min_predictions, t.drift_window
        # A PSI from a handful of inputs is sampling noise: only with enough
        # predictions in the window does a high figure mean drift.
        enough = (f"on (job) (sum by (job) (increase({ML_PREDICTED_ROWS}{{{sel}}}"
                  f"[{window}])) >= {least})")
        drift, few = _drift(fl, psi * 2, least, window, wait.drift)
        out.append(Alert(
            g, "DataDrift",
            f"max by (job, feature) ({ML_DRIFT}{{{sel}}}) > {_num(psi)} and {enough}",
            wait.drift, "warning",
            f"{g}: feature {{{{ $labels.feature }}}} drifts (PSI > {_num(psi)}, {env.name})",
            f"The population stability index of feature {{{{ $labels.feature }}}} in "
            f"{env.name} has been above {_num(psi)} for {_spoken(wait.drift)}, over at "
            f"least {least} predictions in {window}: recent inputs no longer look like the "
            "training data.",
            Case(drift, ({"job": g, "feature": "tenure_months"},)),
            Case(_drift(fl, psi / 2, least, window, wait.drift)[0], ()), service=g,
            also_quiet=((f"below {least} predictions", Case(few, ())),)))
    out += _datastore_alerts(topo)
    return out


def _drift(labels: dict[str, str], psi: float, least: int, window: str,
           wait: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Series of a drift figure `psi` over (enough, too few) predictions in `window`:
    twice `least` a minute (enough from the first minute on), or a pace at which the
    window never holds half of `least` up to the test's evaluation time (_test)."""
    job = {k: v for k, v in labels.items() if k != "feature"}
    minutes = max(duration_seconds(window), (duration_seconds(wait) // 60 + 10) * 60) / 60
    gauge = (_sel(ML_DRIFT, **labels), f"{_num(psi)}x40")
    enough, few = ((gauge, (_sel(ML_PREDICTED_ROWS, **job), f"0+{_num(rate)}x40"))
                   for rate in (2 * least, least / 2 / minutes))
    return enough, few


def _http_alerts(topo: Topology, job: ScrapeJob, requests: str, latency: str,
                 labels: dict[str, str]) -> list[Alert]:
    """5xx share and p95 latency of one HTTP service."""
    env, t, wait = topo.env, topo.env.monitoring.thresholds, topo.env.monitoring.alert_for
    g, lab = job.job, {"job": job.job, "instance": instance_of(job), **labels}
    sel = f'job="{g}"'
    return [
        Alert(
            g, "HighErrorRate",
            f'sum by (job) (rate({requests}{{{sel},status=~"5.."}}[5m]))'
            f" / sum by (job) (rate({requests}{{{sel}}}[5m])) > {_num(t.error_rate)}",
            wait.sustained, "critical",
            f"{g}: more than {_pct(t.error_rate)} of responses are 5xx "
            f"({env.name})",
            f"Over the last 5 minutes more than {_pct(t.error_rate)} of the responses of "
            f"{g} in {env.name} were server errors (5xx).",
            _shares(requests, requests, dict(lab, status="200"), (1 + t.error_rate) / 2,
                    True, status="500"),
            _shares(requests, requests, dict(lab, status="200"), t.error_rate / 2,
                    False, status="500"), service=g),
        Alert(
            g, "HighLatency",
            f"histogram_quantile(0.95, sum by (job, le) (rate({latency}{{{sel}}}[5m])))"
            f" > {_num(t.latency_p95_seconds)}", wait.sustained, "warning",
            f"{g}: p95 latency above {_num(t.latency_p95_seconds)}s ({env.name})",
            f"The 95th percentile response time of {g} in {env.name} has been above "
            f"{_num(t.latency_p95_seconds)}s for {_spoken(wait.sustained)}.",
            _histogram(latency, lab, t.latency_p95_seconds, True),
            _histogram(latency, lab, t.latency_p95_seconds, False), service=g),
    ]


def _first(topo: Topology, jobs: list[ScrapeJob]) -> dict[str, str]:
    """job and instance labels of the first target of the first job."""
    return {"job": jobs[0].job, "instance": instance_of(jobs[0])}


def _quotient(num: str, den: str, labels: dict[str, str], ratio: float, fire: bool) -> Case:
    return Case(((_sel(num, **labels), f"{_num(1000 * ratio)}x40"),
                 (_sel(den, **labels), "1000x40")), (labels,) if fire else ())


def _down(topo: Topology, group: str, name: str, metric: str, jobs: list[ScrapeJob],
          what: str) -> Alert:
    env, sel, lab = topo.env.name, "|".join(j.job for j in jobs), _first(topo, jobs)
    wait = topo.env.monitoring.alert_for.down
    return Alert(
        group, name, f'{metric}{{job=~"{sel}"}} == 0', wait, "critical",
        f"{what} behind {{{{ $labels.instance }}}} is down ({env})",
        f"The exporter {{{{ $labels.instance }}}} in {env} cannot reach {what} "
        f"({metric} == 0) for {_spoken(wait)}.",
        _gauge(metric, lab, 0, lab), _gauge(metric, lab, 1, None))


def _datastore_alerts(topo: Topology) -> list[Alert]:
    env, t, wait = topo.env.name, topo.env.monitoring.thresholds, topo.env.monitoring.alert_for
    out: list[Alert] = []
    pg_jobs, primary = topo.postgres_jobs()
    if pg_jobs:
        out.append(_down(topo, "postgres", "PostgresDown", "pg_up", pg_jobs, "PostgreSQL"))
    slot = topo.replication.slot if topo.replication else None
    if slot and primary:
        want = {**_first(topo, [primary]), "slot_name": slot}
        lab = {**want, "database": ""}
        sel = f'job="{primary.job}",slot_name="{slot}"'
        lag = t.replication_lag_bytes
        out.append(Alert(
            "postgres", "ReplicationLag", f"pg_replication_slots_pg_wal_lsn_diff{{{sel}}} > {lag}",
            wait.sustained, "warning", f"replica (slot {slot}) lags the primary ({env})",
            f"The replica of {env} is more than {lag} bytes of WAL behind the primary "
            f"(replication slot {slot}) for {_spoken(wait.sustained)}.",
            _gauge("pg_replication_slots_pg_wal_lsn_diff", lab, lag * 2, want),
            _gauge("pg_replication_slots_pg_wal_lsn_diff", lab, lag / 2, None)))
        active = f"pg_replication_slots_active{{{sel}}}"
        out.append(Alert(
            "postgres", "PostgresReplicaNotStreaming",
            f'{active} == 0 or on() (absent({active}) and on() pg_up{{job="{primary.job}"}} == 1)',
            wait.replica_not_streaming, "critical",
            f"the replica is not streaming from the primary ({env})",
            f"Replication slot {slot} on the primary of {env} has no active replica "
            f"(or does not exist) for {_spoken(wait.replica_not_streaming)}: reads from the "
            "replica go stale.",
            _gauge("pg_replication_slots_active", lab, 0, want),
            _gauge("pg_replication_slots_active", lab, 1, None)))
    redis_jobs, sentinel_jobs = topo.redis_jobs()
    out += _redis_ha_alerts(topo, redis_jobs, sentinel_jobs)
    if redis_jobs:
        redis = [j.job for j in redis_jobs]
        out.append(_down(topo, "redis", "RedisDown", "redis_up", redis_jobs, "Redis"))
        lab = _first(topo, redis_jobs)
        ratio, sel = t.redis_memory_ratio, f'job=~"{"|".join(redis)}"'
        used, cap = "redis_memory_used_bytes", "redis_memory_max_bytes"
        out.append(Alert(
            "redis", "RedisMemoryHigh",
            f"{used}{{{sel}}} / ({cap}{{{sel}}} > 0) > {_num(ratio)}", wait.sustained, "warning",
            f"Redis uses more than {_pct(ratio)} of its maxmemory ({env})",
            f"Redis in {env} has used more than {_pct(ratio)} of maxmemory for "
            f"{_spoken(wait.sustained)}; "
            "at the ceiling it refuses writes (noeviction) and Celery stops.",
            _quotient(used, cap, lab, (1 + ratio) / 2, True),
            _quotient(used, cap, lab, ratio / 2, False)))
    nodes = topo.jobs_of_kind("node-exporter")
    if nodes:
        names = "|".join(j.job for j in nodes)
        free, sel = t.disk_free_ratio, f'job=~"{names}",fstype!~"{NOT_DISKS}"'
        lab = {**_first(topo, nodes), "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
        avail, size = "node_filesystem_avail_bytes", "node_filesystem_size_bytes"
        out.append(Alert(
            "node", "DiskSpaceLow", f"{avail}{{{sel}}} / {size}{{{sel}}} < {_num(free)}",
            wait.sustained, "warning",
            f"less than {_pct(free)} disk free on {{{{ $labels.mountpoint }}}} ({env})",
            f"The filesystem {{{{ $labels.mountpoint }}}} ({{{{ $labels.device }}}}) in {env} "
            f"has had less than {_pct(free)} free space for {_spoken(wait.sustained)}.",
            _quotient(avail, size, lab, free / 2, True),
            _quotient(avail, size, lab, (1 + free) / 2, False)))
    lbs = topo.jobs_of_kind("nginx-exporter")
    if lbs:
        out.append(_down(topo, "nginx", "NginxDown", "nginx_up", lbs, "nginx (the load balancer)"))
    logs = topo.jobs_of_kind("lb-log-exporter")
    if logs:
        # Every response the load balancer sent, its own 502/504 (no member reachable)
        # included, which no app's counter sees.
        sel, ratio = f'job=~"{"|".join(j.job for j in logs)}"', t.error_rate
        five = f'sum by (job) (rate({LB_REQUESTS}{{{sel},class="5xx"}}[5m]))'
        lab = {**_first(topo, logs), "route": "api", "source": "upstream", "class": "2xx",
               "status": "200"}
        bad = {"class": "5xx", "status": "502"}
        out.append(Alert(
            "nginx", "LoadBalancerErrorRate",
            f"{five} / sum by (job) (rate({LB_REQUESTS}{{{sel}}}[5m])) > {_num(ratio)}",
            wait.sustained, "critical",
            f"more than {_pct(ratio)} of the load balancer's responses are 5xx ({env})",
            f"Over the last 5 minutes more than {_pct(ratio)} of the responses the load "
            f"balancer of {env} sent were server errors (5xx), its own 502/504 included.",
            _shares(LB_REQUESTS, LB_REQUESTS, lab, (1 + ratio) / 2, True, **bad),
            _shares(LB_REQUESTS, LB_REQUESTS, lab, ratio / 2, False, **bad)))
    return out


def _redis_ha_alerts(topo: Topology, servers: list[ScrapeJob],
                     sentinels: list[ScrapeJob]) -> list[Alert]:
    """With Sentinels: a primary exists and is alone, it has a replica to promote, and
    enough Sentinels see each other to elect the one that fails over."""
    ha, env = topo.redis_ha, topo.env.name
    if ha is None or not servers or not sentinels:
        return []
    info = f'redis_instance_info{{job=~"{"|".join(j.job for j in servers)}",role="master"}}'
    a, b = ({"job": j.job, "instance": instance_of(j)} for j in servers[:2])

    def role(labels: dict[str, str], value: str) -> tuple[str, str]:
        return _sel("redis_instance_info", **labels, role=value), "1x40"

    # Sentinel counts the others it sees; a failover needs a majority of all of them
    # to elect its leader, and `quorum` of them to agree the primary is down.
    need = max(ha.quorum, len(ha.sentinels) // 2 + 1)
    sl = {**_first(topo, sentinels), "master_name": ha.master_name,
          "master_address": f"{ha.primary}:{PORTS['redis']}"}
    ok = f'redis_sentinel_master_ok_sentinels{{job="{sentinels[0].job}"}}'
    replicas = f'redis_connected_slaves{{job=~"{"|".join(j.job for j in servers)}"}}'
    return [
        Alert("redis", "RedisNoPrimary", f"absent({info})", "30s", "critical",
              f"no Redis primary ({env})",
              f"Neither Redis server in {env} has been a primary for 30 seconds: the "
              "Sentinels cannot fail over (see the runbook, Redis lost); the API answers "
              "predictions 503 and the cache is off.",
              Case((role(a, "slave"), role(b, "slave")), ({"role": "master"},)),
              Case((role(a, "master"), role(b, "slave")), ())),
        Alert("redis", "RedisSplitBrain", f"count({info}) > 1", "1m", "critical",
              f"two Redis primaries ({env})",
              f"Both Redis servers in {env} have answered as the primary for a minute: "
              "writes go to either; the runbook (Redis lost) says which to keep.",
              Case((role(a, "master"), role(b, "master")), ({},)),
              Case((role(a, "master"), role(b, "slave")), ())),
        Alert("redis", "RedisNoReplica", f"max({replicas}) < 1", "2m", "warning",
              f"the Redis primary has no replica ({env})",
              f"The Redis primary in {env} has had no connected replica for 2 minutes: "
              "a failover would have nothing to promote.",
              Case(((_sel("redis_connected_slaves", **a), "0x40"),), ({},)),
              Case(((_sel("redis_connected_slaves", **a), "1x40"),), ())),
        _down(topo, "redis", "RedisSentinelDown", "redis_up", sentinels, "Redis Sentinel"),
        Alert("redis", "RedisSentinelQuorumLost", f"{ok} + 1 < {need}", "1m", "critical",
              f"too few Redis Sentinels to fail over ({env})",
              f"{{{{ $labels.instance }}}} in {env} sees fewer than {need} Sentinels "
              "(itself included) for a minute: losing the Redis primary now would not "
              "be followed by a failover.",
              _gauge("redis_sentinel_master_ok_sentinels", sl, need - 2, sl),
              _gauge("redis_sentinel_master_ok_sentinels", sl, len(ha.sentinels) - 1, None)),
    ]


def rule_groups(alerts: list[Alert]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        groups.setdefault(alert.group, []).append(alert.rule())
    return {"groups": [{"name": n, "rules": r} for n, r in groups.items()]}


def _expand(text: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)


def _test(alert: Alert, case: Case, fires: bool, why: str = "") -> dict[str, Any]:
    # Long enough for the 5m rate windows to fill, then the whole `for` to pass.
    at = int(duration_seconds(alert.for_) // 60) + 10
    expected = [
        {"exp_labels": {**labels, **alert.labels},
         "exp_annotations": {"summary": _expand(alert.summary, labels),
                             "description": _expand(alert.description, labels)}}
        for labels in case.alerts
    ]
    return {
        "name": f"{alert.group} {alert.name} {'fires' if fires else 'stays quiet'}"
                + (f" ({why})" if why else ""),
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in case.series],
        "alert_rule_test": [{"eval_time": f"{at}m", "alertname": alert.name,
                             "exp_alerts": expected}],
    }


def rule_tests(alerts: list[Alert], rules_path: str, tests_path: str) -> dict[str, Any]:
    rules = posixpath.relpath(rules_path, posixpath.dirname(tests_path))
    tests = []
    for alert in alerts:
        tests += [_test(alert, alert.fires, True), _test(alert, alert.quiet, False)]
        tests += [_test(alert, case, False, why) for why, case in alert.also_quiet]
    return {"rule_files": [rules], "evaluation_interval": "1m", "tests": tests}
