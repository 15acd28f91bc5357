"""What the artifacts, the validators, the CI template, the install script and the
reference app agree on, in one place: artifact paths, validation tools, metric and
task names.

Standard library only: `python3 -m infra_gen.contract LIST` prints one of the lists
below one item a line (scripts/install-tools.sh reads the tool lists that way), so
nothing beyond python3 is needed to read it. The reference app (services/app) cannot
import infra_gen inside its image; tests/unit/test_contract.py checks that it
declares the same metric and task names.
"""

from __future__ import annotations

import sys

# -- artifact paths, relative to generated/<env>/ -------------------------------
COMPOSE = "compose.yaml"
STACK = "stack.yaml"
"""The swarm variant of compose.yaml (multi-host environments only)."""
NGINX_CONF = "nginx/nginx.conf"
MTAIL_PROGRAMS = "mtail"
"""The log exporter's programs (mtail --progs reads the directory)."""
PROMETHEUS_CONFIG = "prometheus/prometheus.yml"
PROMETHEUS_SWARM_CONFIG = "prometheus/prometheus.swarm.yml"
PROMETHEUS_RULES = "prometheus/rules/*.yml"
PROMETHEUS_TESTS = "prometheus/tests/*.yml"
ALERTMANAGER_CONFIG = "alertmanager/alertmanager.yml"
ENV_EXAMPLE = "env.example"
UFW = "firewall/ufw.sh"
CI_WORKFLOW = "ci/github-workflow.yml"
GRAFANA_PROVISIONING = "grafana/provisioning"
GRAFANA_DASHBOARDS = "grafana/dashboards/*.json"
FAILOVER_DIR = "failover"
"""failover.sh, reseed-replica.sh and failback.sh (environments with a replica)."""
PG_FENCE_FILE = "infra-gen-fenced"
"""Fence marker in a demoted primary's data directory: failover.sh writes it, the
postgres image's entry point (services/postgres/entrypoint.sh) refuses to start that
data and re-seeds it as a standby of the primary the file names."""

# -- validation tools -----------------------------------------------------------
APT_TOOLS: dict[str, str] = {
    "nginx": "nginx",
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "logrotate": "logrotate",
    "shellcheck": "shellcheck",
    "ufw": "ufw",
    "mtail": "mtail",
}
"""Program a check runs -> the Debian/Ubuntu package that ships it."""
PIP_TOOLS: dict[str, str] = {"check-jsonschema": "check-jsonschema", "gixy": "gixy-ng"}
"""Program a check runs -> the PyPI package that ships it (the validate and test extras
install them)."""
DOCKER_TOOLS: dict[str, str] = {"docker": "docker.io", "docker compose": "docker-compose"}
"""The Docker engine's CLI and its Compose v2 plugin -> the Debian 13 package (on Debian
12, scripts/install-tools.sh takes them from trixie: bookworm's docker-compose is v1)."""
HOST_DAEMONS = ("nginx", "prometheus", "prometheus-alertmanager", "mtail")
"""Services the packages above start on install; only their binaries are wanted."""


def apt_packages() -> list[str]:
    return list(dict.fromkeys(APT_TOOLS.values()))


def install_hint(tool: str) -> str:
    """How to install a tool validate runs, in the words a missing-tool message uses."""
    if tool in PIP_TOOLS:
        return f"pip install 'infra-gen[validate]' (or pip install {PIP_TOOLS[tool]})"
    if tool in APT_TOOLS:
        return f"apt-get install {APT_TOOLS[tool]} (or make tools)"
    if tool in DOCKER_TOOLS:
        return "Docker with Compose v2: apt-get install docker.io docker-compose (Debian 13; or make docker)"
    return f"install {tool}"


# -- what the reference app exposes (services/app/churn/**/metrics.py) ----------
API_REQUESTS = "churn_api_requests_total"
API_LATENCY = "churn_api_request_duration_seconds_bucket"
API_ACTIVE_CLIENTS = "churn_api_active_clients"
TASKS_SUCCEEDED = "churn_worker_tasks_succeeded_total"
TASKS_FAILED = "churn_worker_tasks_failed_total"
TASKS_RETRIED = "churn_worker_tasks_retried_total"
TASK_RUNTIME = "churn_worker_task_duration_seconds_bucket"
ML_LATENCY = "churn_ml_prediction_duration_seconds_bucket"
ML_ACCURACY = "churn_ml_model_accuracy"
ML_IMPORTANCE = "churn_ml_feature_importance"
ML_DRIFT = "churn_ml_feature_drift_psi"
LIVE_ACCURACY = "churn_model_live_accuracy"
"""The API's share of labelled predictions the model got right (real outcomes)."""
LABELLED_PREDICTIONS = "churn_model_labelled_predictions"
LIVE_ACCURACY_DAYS = 30
"""Outcomes observed in this many days count (the app's LIVE_ACCURACY_DAYS)."""
LIVE_ACCURACY_MIN_LABELLED = 30
"""Labelled predictions the live accuracy needs before its alert may fire: fewer say
little about the model (a handful of wrong early outcomes is noise)."""
ML_PREDICTED_ROWS = "churn_ml_predicted_rows_total"
METRICS = (API_REQUESTS, API_LATENCY, API_ACTIVE_CLIENTS, TASKS_SUCCEEDED, TASKS_FAILED,
           TASKS_RETRIED, TASK_RUNTIME, ML_LATENCY, ML_ACCURACY, ML_IMPORTANCE, ML_DRIFT,
           LIVE_ACCURACY, LABELLED_PREDICTIONS, ML_PREDICTED_ROWS)
"""Series the rules and dashboards query (histograms by their _bucket series)."""
# -- metrics that are not the bundled app's --------------------------------------
LB_REQUESTS = "lb_http_requests_total"
"""The load balancer's responses (the mtail artifact counts nginx's access lines),
labelled route (the nginx location's group), status (the code), class (2xx...5xx)
and source (lb: nginx answered itself, such as a 429; upstream: a member did)."""
LB_UNPARSED = "lb_access_lines_unparsed_total"
"""Access lines the log exporter did not recognise (nginx's log_format and the mtail
program out of step): 0."""
LB_ACCESS_TAG = "lb_access"
"""The syslog tag of the access lines nginx sends the log exporter."""
LB_ACCESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("status", "$status"), ("route", "$lb_route"), ("request_time", "$request_time"),
    ("upstream", "$upstream_status"),
)
"""The access line the log exporter parses, `key=value` in this order (nginx.conf's
lb_metrics log_format writes it, the mtail program reads it). upstream is last: with
retries it holds several statuses ("502, 200"); "-" when nginx answered itself."""
ENV_LABEL = "environment"
"""Label every scrape target carries (the environment's name; prometheus.yml): the
dashboards' $environment selects on it, so one Grafana can show several environments.
external_labels only reach remote readers."""
NOT_DISKS = "tmpfs|devtmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs"
"""Filesystems that are not disks (the node exporter reports them all)."""
# A service of your own: the Prometheus client libraries' conventional HTTP metrics
# (a counter with a status label, a latency histogram in seconds).
HTTP_REQUESTS = "http_requests_total"
HTTP_LATENCY = "http_request_duration_seconds_bucket"

SCORE_TASK = "churn.score_customer"
"""The Celery task the API queues and the worker runs (its metrics' `task` label)."""

LISTS: dict[str, list[str]] = {
    "apt-packages": apt_packages(),
    "apt-tools": list(APT_TOOLS),
    "pip-packages": list(dict.fromkeys(PIP_TOOLS.values())),
    "host-daemons": list(HOST_DAEMONS),
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in LISTS:
        print(f"usage: python3 -m infra_gen.contract {{{'|'.join(LISTS)}}}", file=sys.stderr)
        return 2
    print("\n".join(LISTS[argv[0]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
