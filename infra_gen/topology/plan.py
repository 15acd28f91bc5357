"""plan(env): derive the Topology of an environment."""

from __future__ import annotations

from ..model import Environment, Resources, Role, TlsMode, duration_seconds
from ..model.common import ResourceAmounts
from ..model.roles import APP_UID, ROLE_SPECS, RoleSpec, own_spec
from .certificates import certbot, certificate_paths, lb_tls
from .facts import (
    BACKEND_NET,
    FRONTEND_NET,
    LB_LOG_DIR,
    LB_LOG_VOLUME,
    NGINX_UID,
    PORTS,
    SWARM_PORTS,
    Container,
    FirewallRule,
    Healthcheck,
    Link,
    Mount,
    Published,
    Replication,
    ScrapeJob,
    Topology,
    UpstreamPool,
    public_base_url,
    redis_ha,
)
from .observability import (
    error_sink,
    error_sink_dsn,
    exporters,
    http_check,
    monitoring,
    secret_env,
)
from .postgres import postgres_servers
from .redis import redis_client, redis_servers
from .registry import MLFLOW, ml_env, mlflow_server

MIGRATE = "migrate"
"""The one-shot migration service (compose and swarm service name)."""
MIGRATE_INDEXES = "/etc/infra-gen/indexes.sql"
"""Where the migration service reads postgres/indexes.sql."""
ERROR_SINK = "error-sink"
"""The error sink's service name (error_tracking.sink)."""
MIGRATE_RESOURCES = Resources(limits=ResourceAmounts(cpus=0.5, memory="256M"), pids=64)

APP_MODEL_DIR = "/opt/churn/model"
"""The app's DEFAULT_MODEL_DIR (services/app/churn/config.py); a MODEL_DIR in the ml
service's environment overrides it, as it does in the app."""


class _Planner:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.image_tag = env.images.tag
        self.containers: list[Container] = []
        # Without a replica nothing of replication exists: no role, slot or secret.
        self.replication = Replication(
            user="replicator", slot="replica_1", password_secret="replication_password",
            primary="postgres", replica="postgres-replica",
        ) if env.postgres.replicas else None
        self.redis_ha = redis_ha(env)

    def image(self, name: str, tag: str | None = None) -> str:
        return f"{self.env.images.registry}/{name}:{tag or self.image_tag}"

    # -- the app -------------------------------------------------------------
    def db_env(self) -> tuple[tuple[str, str], ...]:
        pg = self.env.postgres
        repl = self.replication
        return (
            # Both nodes where there is a replica: libpq tries them in turn and the app
            # keeps the one that accepts writes (target_session_attrs=read-write), so a
            # failover repoints the clients with no re-render (failover/failover.sh).
            ("DATABASE_HOST", f"{repl.primary},{repl.replica}" if repl else "postgres"),
            ("DATABASE_PORT", str(PORTS["postgres"])),
            ("DATABASE_NAME", pg.database),
            ("DATABASE_USER", pg.user),
            secret_env("DATABASE_PASSWORD_FILE", "postgres_password"),
        )

    def app_services(self) -> None:
        env = self.env
        db_env = self.db_env()
        redis_env, redis_links, redis_depends = redis_client(self.redis_ha)
        ml_groups = [n for n in env.services if env.role_of(n) is Role.ml]
        ml_url = f"http://{ml_groups[0]}:{self.port_of(ml_groups[0])}" if ml_groups else ""
        for group, svc in env.services.items():
            spec = self.spec_of(group)
            port = self.port_of(group)
            grace = duration_seconds(svc.graceful_timeout)
            environment: list[tuple[str, str]] = [("LOG_LEVEL", "info")]
            depends: list[tuple[str, str]] = []
            links: list[Link] = []
            if spec.gunicorn:
                environment += [
                    ("PORT", str(port)),
                    ("GUNICORN_WORKERS", str(svc.concurrency)),
                    ("GUNICORN_GRACEFUL_TIMEOUT", str(int(grace))),
                    secret_env("SECRET_KEY_FILE", "secret_key"),
                ]
            if spec.datastores:
                environment += [*db_env, *redis_env]
                links += [Link("postgres", "SQL"), *redis_links]
                depends += [("postgres", self.database_condition()), *redis_depends,
                            (MIGRATE, "service_completed_successfully")]
            if spec.reads_replica and self.replication:
                environment.append(("DATABASE_REPLICA_HOST", self.replication.replica))
                links.append(Link(self.replication.replica, "SQL reads"))
            if spec.celery:
                environment += [
                    ("ML_URL", ml_url),
                    ("WORKER_CONCURRENCY", str(svc.concurrency)),
                    ("METRICS_PORT", str(self.metrics_of(group)[0])),
                ]
                links += [Link(ml, "predictions") for ml in ml_groups[:1] if ml != group]
                depends += [(ml, "service_healthy") for ml in ml_groups
                            if env.services[ml].replicas]
            secrets = spec.secrets
            track = env.error_tracking
            if track.enabled and spec.reports_errors:
                environment += [
                    secret_env("SENTRY_DSN_FILE", track.dsn_secret),
                    ("SENTRY_RELEASE", svc.tag or self.image_tag),
                    ("SENTRY_ENVIRONMENT", env.name),
                    ("SENTRY_SAMPLE_RATE", f"{track.sample_rate:g}"),
                ]
                if track.test_error_route and spec.test_error_route:
                    environment.append(("TEST_ERROR_ROUTE", "1"))
                secrets = tuple(sorted({*secrets, track.dsn_secret}))
                if track.sink:
                    links.append(Link(ERROR_SINK, "error events"))
            if spec.model_registry and env.ml_registry.enabled:
                # No depends_on: without the registry it serves the model in its image.
                environment += ml_env(env)
                links.append(Link(MLFLOW, "model registry"))
            environment += sorted(svc.environment.items())
            depends += [(d, "service_healthy") for d in svc.depends_on]
            if spec.health_path and port:
                check = http_check(port, spec.health_path)
            elif spec.health_command:
                check = Healthcheck(("CMD", *spec.health_command))
            else:
                check = Healthcheck(("CMD", "curl", "-fsS", "-o", "/dev/null",
                                     f"http://127.0.0.1:{self.metrics_of(group)[0]}/metrics"))
            # What the image really serves: its port, and the worker's METRICS_PORT.
            served = {p for p in (port, dict(environment).get("METRICS_PORT"),
                                  None if spec.image_ref is None else self.metrics_of(group)[0])
                      if p}
            role = env.role_of(group)
            self.containers.append(
                Container(
                    name=group,
                    kind=role.value if role is not None else "service",
                    replicas=svc.replicas,
                    scalable=True,
                    image=spec.image_ref or self.image(spec.image, svc.tag),
                    command=spec.command,
                    user=spec.user,
                    port=port,
                    expose=tuple(sorted(int(p) for p in served)),
                    resources=svc.resources,
                    networks=spec.networks,
                    environment=tuple(environment),
                    secrets=secrets,
                    depends_on=tuple(depends),
                    healthcheck=check,
                    # Longer than the graceful timeout, so in-flight requests finish.
                    stop_grace_period=f"{int(grace) + 10}s",
                    mounts=tuple(Mount(v.name, v.target, False, True) for v in svc.volumes),
                    cap_add=tuple(g.name for g in svc.capabilities),
                    tmpfs=spec.tmpfs,
                    writable_root=svc.writable_root.reason if svc.writable_root else None,
                    alerts=spec.alerts,
                    dashboard=spec.dashboard,
                    links=tuple(links),
                )
            )

    def database_condition(self) -> str:
        """What starting after the planned PostgreSQL primary means. Healthy, for a lone
        database. Only started when there is a replica: a failover swaps the roles, and
        the planned primary may then be a fenced node that re-seeds from the other one
        before it answers; waiting for it to be healthy would hold the new primary (and
        the API) back from starting, forever. Each waits for a primary by itself: the
        replica's base backup for its primary's port, migrate up to MIGRATE_WAIT for a
        node that takes writes (DATABASE_HOST lists both), the API and the workers for
        migrate."""
        return "service_started" if self.replication else "service_healthy"

    def migrations(self) -> None:
        """The one-shot migration service: the app's schema migrations, then the
        environment's indexes, before anything that uses the database starts."""
        self.containers.append(
            Container(
                name=MIGRATE, kind=MIGRATE, image=self.image("app"),
                command=("migrate", "--indexes", MIGRATE_INDEXES),
                user=APP_UID, resources=MIGRATE_RESOURCES, networks=(BACKEND_NET,),
                environment=(("LOG_LEVEL", "info"), *self.db_env()),
                secrets=("postgres_password",),
                mounts=(Mount("./postgres/indexes.sql", MIGRATE_INDEXES),),
                depends_on=(("postgres", self.database_condition()),),
                # Nothing to probe in a run-once container: the image's check says so.
                healthcheck=Healthcheck(("CMD", "app-entrypoint", "healthcheck")),
                one_shot=True,
                links=(Link("postgres", "migrations"),),
            )
        )

    def model_dir(self) -> str:
        ml = [svc for n, svc in self.env.services.items() if self.env.role_of(n) is Role.ml]
        return ml[0].environment.get("MODEL_DIR", APP_MODEL_DIR) if ml else APP_MODEL_DIR

    def spec_of(self, group: str) -> RoleSpec:
        """The row of the roles table a service is: a bundled preset, or its own entry."""
        role = self.env.role_of(group)
        if role is None:
            return own_spec(self.env.services[group], self.env.route_of(group))
        return ROLE_SPECS[role]

    def port_of(self, group: str) -> int | None:
        svc = self.env.services[group]
        return svc.port or self.spec_of(group).port

    def metrics_of(self, group: str) -> tuple[int | None, str]:
        svc = self.env.services[group]
        if svc.metrics is not None:
            return svc.metrics.port, svc.metrics.path
        spec = self.spec_of(group)
        if spec.metrics_port is None:
            return None, "/metrics"
        # A gunicorn app moved to its own port serves metrics there too.
        return (self.port_of(group) if spec.metrics_on_port else spec.metrics_port), "/metrics"

    # -- the platform --------------------------------------------------------
    def load_balancer(self, upstreams: tuple[UpstreamPool, ...]) -> None:
        env = self.env
        lb = env.load_balancer
        published = [Published(lb.bind_address, lb.http_port, PORTS["lb_http"])]
        if env.tls.mode is not TlsMode.none:
            published.append(Published(lb.bind_address, lb.https_port, PORTS["lb_https"]))
        tls_mounts, tls_env = lb_tls(env, self._secrets_dir())
        # The log exporter's socket: connecting to it needs no write access (read-only).
        mounts = (Mount("./nginx/nginx.conf", "/etc/nginx/nginx.conf"),
                  Mount(LB_LOG_VOLUME, LB_LOG_DIR, True, True), *tls_mounts)
        # nginx resolves every upstream name when it starts (and at each reload):
        # the pools' services and the admin UIs it proxies must exist by then.
        depends = [(u.service, "service_healthy") for u in sorted(upstreams, key=lambda u: u.service)
                   if u.replicas]
        depends += [(name, "service_started") for name in ("prometheus", "alertmanager")]
        if env.monitoring.grafana.enabled:
            depends.append(("grafana", "service_started"))
        certbot_container = certbot(env, self.image)
        if certbot_container is not None:
            # certbot puts the temporary certificate in place before nginx starts.
            self.containers.append(certbot_container)
            depends.append((certbot_container.name, "service_healthy"))
        self.containers.append(
            Container(
                name="lb",
                kind="lb",
                image=self.image("lb"),
                user=NGINX_UID,
                port=PORTS["lb_http"],
                resources=lb.resources,
                networks=(FRONTEND_NET,),
                published=tuple(published),
                mounts=mounts,
                environment=tls_env,
                depends_on=tuple(depends),
                healthcheck=http_check(PORTS["lb_http"], "/nginx_health"),
                stop_grace_period=f"{int(duration_seconds(lb.timeouts.read)) + 5}s",
                tmpfs=("/tmp", "/var/cache/nginx"),
            )
        )

    def _secrets_dir(self) -> str:
        return self.env.deploy.secrets_dir.replace("{env}", self.env.name)

    def databases(self) -> None:
        self.containers += postgres_servers(self.env, self.image, self.replication,
                                            self.database_condition())
        self.containers += redis_servers(self.env, self.image)
        server = mlflow_server(self.env, self.image, dict(self.db_env())["DATABASE_HOST"])
        if server is not None:
            self.containers.append(server)

    # -- derived facts --------------------------------------------------------
    def upstreams(self) -> tuple[UpstreamPool, ...]:
        pools = []
        for group, svc in self.env.services.items():
            route = self.env.route_of(group)
            port = self.port_of(group)
            if route is None or port is None:
                continue
            pools.append(UpstreamPool(
                name=group.replace("-", "_"), service=group, route=route, port=port,
                replicas=svc.replicas,
                health_path=self.spec_of(group).health_path,
            ))
        # Longest route first, so /api/v2/ is matched before /api/ and / last.
        return tuple(sorted(pools, key=lambda p: (-len(p.route), p.route)))

    def scrape_jobs(self) -> tuple[ScrapeJob, ...]:
        jobs = []
        by_name = {c.name: c for c in self.containers}
        for group, svc in self.env.services.items():
            port, path = self.metrics_of(group)
            c = by_name[group]
            if port is not None and svc.replicas:
                jobs.append(ScrapeJob(group, group, port, path, kind=c.kind, alerts=c.alerts,
                                      dashboard=c.dashboard, discovered=True))
        for c in self.containers:
            if c.kind.endswith("-exporter") and c.port is not None:
                # The log exporter runs beside each lb task on swarm: every one counts.
                jobs.append(ScrapeJob(c.name.removesuffix("-exporter"), c.name, c.port,
                                      kind=c.kind, watches=c.links[0].target if c.links else None,
                                      discovered=c.kind == "lb-log-exporter"))
        for c in self.containers:
            if c.kind in ("prometheus", "alertmanager") and c.port is not None:
                # Prometheus scrapes itself on localhost.
                jobs.append(ScrapeJob(c.name, c.name, c.port, f"{c.route_prefix}/metrics",
                                      kind=c.kind,
                                      host="localhost" if c.kind == "prometheus" else None))
        return tuple(jobs)

    def firewall(self) -> tuple[FirewallRule, ...]:
        fw = self.env.firewall
        rules = [FirewallRule(p, None, "load balancer") for p in sorted(self.env.published_ports())]
        rules += [
            FirewallRule(fw.ssh_port, fw.private_cidr, "ssh from the private network"),
            FirewallRule(PORTS["postgres"], fw.private_cidr, "postgresql, private network only"),
            FirewallRule(PORTS["redis"], fw.private_cidr, "redis, private network only"),
        ]
        if self.redis_ha:
            rules.append(FirewallRule(PORTS["redis-sentinel"], fw.private_cidr,
                                      "redis sentinel, private network only"))
        if self.env.deploy.swarm:
            # Between the swarm's nodes only: the managers' Raft and API (2377), the
            # gossip of node state (7946, both), the overlay networks' VXLAN (4789).
            rules += [FirewallRule(port, fw.private_cidr, f"swarm {what}, private network only",
                                   proto)
                      for port, proto, what in SWARM_PORTS]
        return tuple(rules)


def plan(env: Environment) -> Topology:
    """Every fact the artifacts need, derived once from the environment."""
    p = _Planner(env)
    p.app_services()
    p.migrations()
    p.databases()
    upstreams = p.upstreams()
    p.load_balancer(upstreams)
    p.containers += exporters(env, p.image)
    p.containers += monitoring(env, p.image)
    track = env.error_tracking
    derived: tuple[tuple[str, str], ...] = ()
    if track.enabled and track.sink:
        sink = error_sink(p.image)
        assert sink.name == ERROR_SINK
        p.containers.append(sink)
        derived = ((track.dsn_secret, error_sink_dsn(sink)),)
    containers = tuple(p.containers)
    secrets = sorted({s for c in containers for s in c.secrets})
    volumes = sorted({m.source for c in containers for m in c.mounts if m.named})
    own_networks = (FRONTEND_NET, BACKEND_NET)
    external = sorted({n for c in containers for n in c.networks if n not in own_networks})
    base = public_base_url(env)
    cert, key = certificate_paths(env)
    return Topology(
        env=env,
        compose_project=f"{env.project.replace('_', '-')}-{env.name}",
        containers=containers,
        upstreams=upstreams,
        scrape_jobs=p.scrape_jobs(),
        firewall_rules=p.firewall(),
        secrets=tuple(secrets),
        volumes=tuple(volumes),
        external_networks=tuple(external),
        tls_certificate=cert,
        tls_key=key,
        replication=p.replication,
        redis_ha=p.redis_ha,
        model_dir=p.model_dir(),
        derived_secrets=derived,
        provided_secrets=((track.dsn_secret,) if track.enabled and not track.sink else ()),
        urls={
            "site": f"{base}/",
            "api": f"{base}/api/",
            # The admin UIs, under the path each serves from.
            **{c.kind: f"{base}{c.route_prefix}/" for c in containers
               if c.kind in ("prometheus", "alertmanager", "grafana")},
        },
    )
