"""Observability containers: exporters, Prometheus, Alertmanager, Grafana, fluentd."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..model import Environment, Resources
from ..model.common import ResourceAmounts
from ..model.roles import APP_UID
from .facts import (
    BACKEND_NET,
    FRONTEND_NET,
    GRAFANA_DASHBOARDS_DIR,
    LB_LOG_DIR,
    LB_LOG_PROGRAM,
    LB_LOG_SOCKET,
    LB_LOG_VOLUME,
    NOBODY_UID,
    PORTS,
    SECRETS_MOUNT,
    Container,
    Healthcheck,
    Link,
    Mount,
    public_base_url,
    redis_ha,
)

GRAFANA_PROVISIONING = ("datasources/prometheus.yml", "dashboards/provider.yml")
GRAFANA_DASHBOARDS = ("system", "application", "ml")
"""Grafana's provisioning files and dashboards (the grafana artifact renders them)."""

PROMETHEUS_SWARM_CONFIG = "./prometheus/prometheus.swarm.yml"
FLUENTD_FORWARD_PORT = 24224
"""fluentd's forward input (logging.fluentd.forward)."""

ImageRef = Callable[[str], str]
"""Full reference of one of the project's own images, by short name."""

SMALL = Resources(limits=ResourceAmounts(cpus=0.25, memory="128M"), pids=64)


def http_check(port: int, path: str) -> Healthcheck:
    return Healthcheck(("CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{port}{path}"))


def secret_env(name: str, secret: str) -> tuple[str, str]:
    return (name, f"{SECRETS_MOUNT}/{secret}")


LB_LOG_QUEUE = 4096
"""Access lines the log exporter's socket holds before nginx's sends fail (a burst)."""
LB_LOG_POLL = "1ms"
"""mtail's --poll_interval for the log exporter. mtail (3.0.0~rc50) reads one datagram
from a socket each time it polls: at its default 250ms it counts 4 requests a second
and nginx's sends fail past that (a test burst: 2 of 127 lines counted). At 1ms it
counted 500 lines sent at 1,000 a second with none lost, for about 5% of a core idle
(benchmarks/lb_log_exporter.py)."""


def _exporter(
    image: ImageRef, name: str, kind: str, networks: tuple[str, ...],
    environment: tuple[tuple[str, str], ...] = (), secrets: tuple[str, ...] = (),
    target: str | None = None, mounts: tuple[Mount, ...] = (),
) -> Container:
    port = PORTS[kind]
    return Container(
        name=name, kind=kind, image=image("exporters"),
        command=(kind,), user=NOBODY_UID, port=port, resources=SMALL,
        networks=networks, environment=environment, secrets=secrets, mounts=mounts,
        depends_on=((target, "service_started"),) if target else (),
        links=(Link(target, "exports", dotted=True),) if target else (),
        healthcheck=http_check(port, "/metrics"),
    )


def _job_of(target: str) -> str:
    """redis-sentinel-1 -> redis-sentinel: the job is about the Sentinels, not one."""
    return target.rsplit("-", 1)[0] if target[-1].isdigit() else target


def exporters(env: Environment, image: ImageRef) -> list[Container]:
    """Redis and PostgreSQL do not speak the Prometheus format: their exporters do.
    One per database server, one for Redis, nginx and the host."""
    pg = env.postgres
    databases = ["postgres"] + (["postgres-replica"] if pg.replicas else [])
    out = [
        _exporter(
            image, f"{db}-exporter", "postgres-exporter", (BACKEND_NET,),
            (("DATA_SOURCE_URI", f"{db}:{PORTS['postgres']}/{pg.database}?sslmode=disable"),
             ("DATA_SOURCE_USER", pg.user),
             secret_env("DATA_SOURCE_PASS_FILE", "postgres_password")),
            ("postgres_password",), db,
        )
        for db in databases
    ]
    # One exporter per Redis server, and with Sentinels one reading the first of them
    # (its view of the primary and of how many Sentinels and replicas it sees).
    ha = redis_ha(env)
    redis_targets = [("redis", "redis")] if ha is None else [
        *((node, "redis") for node in ha.nodes), (ha.sentinels[0], "redis-sentinel")]
    out += [
        _exporter(
            image, f"{_job_of(target)}-exporter", "redis-exporter", (BACKEND_NET,),
            (("REDIS_ADDR", f"redis://{target}:{PORTS[port]}"),
             secret_env("REDIS_PASSWORD_FILE", "redis_password")),
            ("redis_password",), target,
        )
        for target, port in redis_targets
    ]
    out.append(_exporter(
        image, "nginx-exporter", "nginx-exporter", (FRONTEND_NET,),
        (("NGINX_STATUS_URI", f"http://lb:{PORTS['lb_status']}/nginx_status"),), target="lb",
    ))
    # The load balancer's requests by status and route (stub_status has no status
    # codes): mtail reads the access line nginx sends to a unix datagram socket on a
    # volume both mount. Not a dependency of the lb: nginx drops the line while the
    # socket is missing (see the nginx artifact).
    out.append(_exporter(
        image, "lb-log-exporter", "lb-log-exporter", (FRONTEND_NET,),
        (("LOG_SOCKET", LB_LOG_SOCKET), ("MTAIL_PROGRAM", LB_LOG_PROGRAM),
         ("MTAIL_POLL_INTERVAL", LB_LOG_POLL)),
        mounts=(Mount("./mtail/lb_access.mtail", LB_LOG_PROGRAM),
                Mount(LB_LOG_VOLUME, LB_LOG_DIR, False, True)),
    ))
    # A unix datagram socket queues 10 datagrams by default (net.unix.max_dgram_qlen):
    # past that nginx's send fails and the line is lost, so a burst (when 429s are
    # what matters) would go mostly uncounted. The queue limit is the receiver's.
    out[-1] = replace(out[-1], links=(Link("lb", "access log", dotted=True),),
                      sysctls=(("net.unix.max_dgram_qlen", str(LB_LOG_QUEUE)),))
    host = {"procfs": ("/proc", "/host/proc"), "sysfs": ("/sys", "/host/sys"),
            "rootfs": ("/", "/host/root")}
    node = _exporter(
        image, "node-exporter", "node-exporter", (BACKEND_NET,),
        mounts=tuple(Mount(source, target) for source, target in host.values()),
    )
    # The host's /proc, /sys and filesystems, not the container's: disk alerts and
    # the system dashboard are about the machine.
    flags = tuple(f"--path.{name}={target}" for name, (_, target) in host.items())
    out.append(replace(node, command=(*node.command, *flags)))
    return out


MAIL_DIR = "/var/spool/mail-sink"
"""Where the sink keeps one file per message (a volume; the app image creates it)."""


def mail_sink(image: ImageRef) -> Container:
    """An SMTP sink from the app image (`alerting.smtp.sink`): every mail Alertmanager
    sends is kept as a file, and listed on an internal HTTP port (GET /messages)."""
    smtp, api = PORTS["mail-sink"], PORTS["mail-sink-api"]
    return Container(
        name="mail-sink", kind="mail-sink", image=image("app"), command=("mail-sink",),
        user=APP_UID, port=smtp, expose=(smtp, api), resources=SMALL, networks=(BACKEND_NET,),
        environment=(("SMTP_PORT", str(smtp)), ("API_PORT", str(api)), ("MAIL_DIR", MAIL_DIR)),
        mounts=(Mount("mailsink", MAIL_DIR, False, True),),
        healthcheck=http_check(api, "/healthz"),
    )


ERROR_SINK_PROJECT = 1
"""The project id in the sink's DSN (the sink accepts any)."""


def error_sink(image: ImageRef) -> Container:
    """A stand-in for a Sentry server from the app image (`error_tracking.sink`): it
    accepts the services' envelopes and lists their events (GET /events)."""
    port = PORTS["error-sink"]
    return Container(
        name="error-sink", kind="error-sink", image=image("app"), command=("error-sink",),
        user=APP_UID, port=port, resources=SMALL, networks=(BACKEND_NET,),
        environment=(("PORT", str(port)),), healthcheck=http_check(port, "/healthz"),
    )


def error_sink_dsn(sink: Container) -> str:
    """The DSN of the stack's error sink (its key is no secret: the sink checks none)."""
    return f"http://infra-gen@{sink.name}:{sink.port}/{ERROR_SINK_PROJECT}"


def monitoring(env: Environment, image: ImageRef) -> list[Container]:
    """Prometheus and Alertmanager; Grafana and fluentd where the environment enables them."""
    out: list[Container] = []
    mon = env.monitoring
    prom_port, am_port = PORTS["prometheus"], PORTS["alertmanager"]
    # Each serves under its own path: the load balancer proxies both on the site's host.
    prom_prefix, am_prefix = "/prometheus", "/alertmanager"
    out.append(
        Container(
            name="prometheus", kind="prometheus",
            image=image("prometheus"), user="prometheus", port=prom_port,
            route_prefix=prom_prefix,
            command=(
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/var/lib/prometheus",
                f"--storage.tsdb.retention.time={mon.retention}",
                f"--web.route-prefix={prom_prefix}",
                f"--web.external-url={public_base_url(env)}{prom_prefix}/",
            ),
            resources=mon.resources, networks=(FRONTEND_NET, BACKEND_NET),
            # On swarm it finds replicas through tasks.<service>: its own file.
            mounts=(Mount("./prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml",
                          swarm_source=(PROMETHEUS_SWARM_CONFIG if env.deploy.swarm else None)),
                    Mount("./prometheus/rules/alerts.yml", "/etc/prometheus/rules/alerts.yml"),
                    Mount("prometheusdata", "/var/lib/prometheus", False, True)),
            healthcheck=http_check(prom_port, f"{prom_prefix}/-/healthy"),
        )
    )
    smtp = env.alerting.smtp
    smtp_secrets = (smtp.auth_password_secret,) if smtp and smtp.auth_password_secret else ()
    sink = mail_sink(image) if smtp and smtp.sink else None
    out.append(
        Container(
            name="alertmanager", kind="alertmanager",
            image=image("alertmanager"), user="prometheus", port=am_port,
            route_prefix=am_prefix,
            command=(
                "--config.file=/etc/alertmanager/alertmanager.yml",
                "--storage.path=/var/lib/alertmanager",
                f"--web.route-prefix={am_prefix}",
                f"--web.external-url={public_base_url(env)}{am_prefix}/",
                "--cluster.listen-address=",
            ),
            resources=SMALL, networks=(FRONTEND_NET, BACKEND_NET), secrets=smtp_secrets,
            mounts=(Mount("./alertmanager/alertmanager.yml", "/etc/alertmanager/alertmanager.yml"),
                    Mount("alertmanagerdata", "/var/lib/alertmanager", False, True)),
            healthcheck=http_check(am_port, f"{am_prefix}/-/healthy"),
            links=(Link(sink.name, "alert mail"),) if sink else (),
        )
    )
    if sink:
        out.append(sink)
    if mon.grafana.enabled:
        secret = mon.grafana.admin_password_secret
        grafana_prefix = "/grafana"
        out.append(
            Container(
                name="grafana", kind="grafana", image=env.images.grafana,
                user="472:0", port=PORTS["grafana"], built_here=False,
                # Its data is a volume; file logs (beside stdout) need a writable place.
                tmpfs=("/tmp", "/var/log/grafana"),
                route_prefix=grafana_prefix,
                resources=Resources(limits=ResourceAmounts(cpus=0.5, memory="512M")),
                networks=(FRONTEND_NET, BACKEND_NET), secrets=(secret,),
                environment=(
                    ("GF_SECURITY_ADMIN_PASSWORD__FILE", f"{SECRETS_MOUNT}/{secret}"),
                    ("GF_SERVER_ROOT_URL", f"{public_base_url(env)}{grafana_prefix}/"),
                    ("GF_SERVER_SERVE_FROM_SUB_PATH", "true"),
                    ("GF_USERS_ALLOW_SIGN_UP", "false"),
                ),
                # Files, not directories: a swarm stack ships each one as a config.
                mounts=(*(Mount(f"./grafana/provisioning/{f}", f"/etc/grafana/provisioning/{f}")
                          for f in GRAFANA_PROVISIONING),
                        *(Mount(f"./grafana/dashboards/{d}.json", f"{GRAFANA_DASHBOARDS_DIR}/{d}.json")
                          for d in GRAFANA_DASHBOARDS),
                        Mount("grafanadata", "/var/lib/grafana", False, True)),
                depends_on=(("prometheus", "service_healthy"),),
                healthcheck=Healthcheck(("CMD", "wget", "-q", "-O", "/dev/null",
                                         f"http://127.0.0.1:{PORTS['grafana']}/api/health")),
            )
        )
    fluentd = env.logging.fluentd
    if fluentd.enabled:
        es = fluentd.elasticsearch
        out.append(
            Container(
                name="fluentd", kind="fluentd", image=env.images.fluentd,
                user="0:0", port=FLUENTD_FORWARD_PORT if fluentd.forward else None,
                built_here=False, resources=SMALL,
                root_reason="reads every container's log under /var/lib/docker/containers",
                # The sink's own network when it is outside the stack: backend-net is
                # internal (no route out).
                networks=(BACKEND_NET, *((es.network,) if es.network else ())),
                mounts=(Mount("./fluentd/fluent.conf", "/fluentd/etc/fluent.conf"),
                        Mount("/var/lib/docker/containers", "/var/lib/docker/containers"),
                        Mount("fluentdbuffer", "/fluentd/buffer", False, True)),
                healthcheck=Healthcheck(("CMD", "fluentd", "--dry-run", "-c",
                                         "/fluentd/etc/fluent.conf")),
            )
        )
    return out
