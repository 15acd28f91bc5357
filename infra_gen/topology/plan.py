"""plan(env): derive the Topology of an environment."""

from __future__ import annotations

from ..model import Environment, Role, TlsMode, duration_seconds
from .facts import (
    BACKEND_NET,
    FRONTEND_NET,
    NGINX_UID,
    PORTS,
    ROLE_DEFAULTS,
    Container,
    FirewallRule,
    Healthcheck,
    Mount,
    Published,
    ScrapeJob,
    Topology,
    UpstreamPool,
    public_base_url,
)
from .observability import exporters, http_check, monitoring, secret_env


class _Planner:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.image_tag = env.images.tag
        self.containers: list[Container] = []

    def image(self, name: str) -> str:
        return f"{self.env.images.registry}/{name}:{self.image_tag}"

    # -- the app -------------------------------------------------------------
    def app_services(self) -> None:
        env = self.env
        pg = env.postgres
        db_env = (
            ("DATABASE_HOST", "postgres"),
            ("DATABASE_PORT", str(PORTS["postgres"])),
            ("DATABASE_NAME", pg.database),
            ("DATABASE_USER", pg.user),
            secret_env("DATABASE_PASSWORD_FILE", "postgres_password"),
        )
        redis_env = (
            ("REDIS_HOST", "redis"),
            ("REDIS_PORT", str(PORTS["redis"])),
            secret_env("REDIS_PASSWORD_FILE", "redis_password"),
        )
        ml_groups = [n for n in env.services if env.role_of(n) is Role.ml]
        ml_url = f"http://{ml_groups[0]}:{self.port_of(ml_groups[0])}" if ml_groups else ""
        for group, svc in env.services.items():
            role = env.role_of(group)
            defaults = ROLE_DEFAULTS[role]
            port = self.port_of(group)
            grace = duration_seconds(svc.graceful_timeout)
            environment: list[tuple[str, str]] = [("LOG_LEVEL", "info")]
            secrets: list[str] = []
            depends: list[tuple[str, str]] = []
            networks: tuple[str, ...] = (BACKEND_NET,)
            if role in (Role.api, Role.ml):
                environment += [
                    ("PORT", str(port)),
                    ("GUNICORN_WORKERS", str(svc.concurrency)),
                    ("GUNICORN_GRACEFUL_TIMEOUT", str(int(grace))),
                    secret_env("SECRET_KEY_FILE", "secret_key"),
                ]
                secrets.append("secret_key")
            if role in (Role.api, Role.worker):
                environment += [*db_env, *redis_env]
                secrets += ["postgres_password", "redis_password"]
                depends += [("postgres", "service_healthy"), ("redis", "service_healthy")]
            if role is Role.api:
                networks = (FRONTEND_NET, BACKEND_NET)
                if pg.replicas:
                    environment.append(("DATABASE_REPLICA_HOST", "postgres-replica"))
            if role is Role.worker:
                environment += [
                    ("ML_URL", ml_url),
                    ("WORKER_CONCURRENCY", str(svc.concurrency)),
                    ("METRICS_PORT", str(self.metrics_of(group)[0])),
                ]
                depends += [(f"{ml}-1", "service_healthy") for ml in ml_groups]
            if role is Role.frontend:
                networks = (FRONTEND_NET,)
            environment += sorted(svc.environment.items())
            if defaults.health_path and port:
                check = http_check(port, defaults.health_path)
            else:
                check = Healthcheck(("CMD", "curl", "-fsS", "-o", "/dev/null",
                                     f"http://127.0.0.1:{self.metrics_of(group)[0]}/metrics"))
            for name in self.replicas_of(group):
                self.containers.append(
                    Container(
                        name=name,
                        group=group,
                        kind=role.value,
                        image=self.image(defaults.image),
                        command=defaults.command,
                        user=defaults.user,
                        port=port,
                        resources=svc.resources,
                        networks=networks,
                        environment=tuple(environment),
                        secrets=tuple(sorted(set(secrets))),
                        depends_on=tuple(depends),
                        healthcheck=check,
                        # Longer than the graceful timeout, so in-flight requests finish.
                        stop_grace_period=f"{int(grace) + 10}s",
                    )
                )

    def replicas_of(self, group: str) -> tuple[str, ...]:
        """Container names of an app service's replicas: api-1, api-2, ..."""
        count = self.env.services[group].replicas
        return tuple(f"{group}-{i}" for i in range(1, count + 1))

    def port_of(self, group: str) -> int | None:
        svc = self.env.services[group]
        return svc.port or ROLE_DEFAULTS[self.env.role_of(group)].port

    def metrics_of(self, group: str) -> tuple[int | None, str]:
        svc = self.env.services[group]
        if svc.metrics is not None:
            return svc.metrics.port, svc.metrics.path
        port = ROLE_DEFAULTS[self.env.role_of(group)].metrics_port
        if port is None:
            return None, "/metrics"
        # A user service of role api/ml on its own port serves metrics there too.
        if self.env.role_of(group) in (Role.api, Role.ml):
            port = self.port_of(group)
        return port, "/metrics"

    # -- the platform --------------------------------------------------------
    def load_balancer(self, upstreams: tuple[UpstreamPool, ...]) -> None:
        env = self.env
        lb = env.load_balancer
        published = [Published(lb.bind_address, lb.http_port, PORTS["lb_http"])]
        mounts = [Mount("./nginx/nginx.conf", "/etc/nginx/nginx.conf")]
        if env.tls.mode is not TlsMode.none:
            published.append(Published(lb.bind_address, lb.https_port, PORTS["lb_https"]))
        if env.tls.mode is TlsMode.self_signed:
            mounts.append(Mount(f"{self._secrets_dir()}/tls", "/etc/nginx/tls"))
        elif env.tls.mode is TlsMode.certbot:
            mounts += [
                Mount("/etc/letsencrypt", "/etc/letsencrypt"),
                Mount("/var/www/certbot", "/var/www/certbot"),
            ]
        groups = sorted({u.group for u in upstreams})
        depends = [(f"{g}-1", "service_healthy") for g in groups]
        # nginx resolves every upstream name when it starts: every member and the
        # admin UIs it proxies must exist by then.
        firsts = {f"{g}-1" for g in groups}
        depends += [(m, "service_started") for u in upstreams for m in u.members
                    if m not in firsts]
        depends += [(name, "service_started") for name in ("prometheus", "alertmanager")]
        if env.monitoring.grafana.enabled:
            depends.append(("grafana", "service_started"))
        self.containers.append(
            Container(
                name="lb",
                group="lb",
                kind="lb",
                image=self.image("lb"),
                user=NGINX_UID,
                port=PORTS["lb_http"],
                resources=lb.resources,
                networks=(FRONTEND_NET,),
                published=tuple(published),
                mounts=tuple(mounts),
                depends_on=tuple(depends),
                healthcheck=http_check(PORTS["lb_http"], "/nginx_health"),
                stop_grace_period=f"{int(duration_seconds(lb.timeouts.read)) + 5}s",
                tmpfs=("/tmp", "/var/cache/nginx"),
            )
        )

    def _secrets_dir(self) -> str:
        return self.env.deploy.secrets_dir.replace("{env}", self.env.name)

    def databases(self) -> None:
        pg = self.env.postgres
        # Without a replica nothing of replication exists: no role, slot or secret.
        replication = (
            ("REPLICATION_USER", "replicator"),
            secret_env("REPLICATION_PASSWORD_FILE", "replication_password"),
            ("REPLICATION_SLOT", "replica_1"),
        ) if pg.replicas else ()
        common_env = (
            ("POSTGRES_DB", pg.database),
            ("POSTGRES_USER", pg.user),
            secret_env("POSTGRES_PASSWORD_FILE", "postgres_password"),
            *replication,
        )
        conf = (
            Mount("./postgres/postgresql.conf", "/etc/infra-gen/postgresql.conf"),
            Mount("./postgres/pg_hba.conf", "/etc/infra-gen/pg_hba.conf"),
        )
        check = Healthcheck(
            ("CMD", "pg_isready", "-h", "127.0.0.1", "-U", pg.user, "-d", pg.database),
            start_period="60s",
        )
        secrets = ("postgres_password", *(("replication_password",) if pg.replicas else ()))
        self.containers.append(
            Container(
                name="postgres", group="postgres", kind="postgres",
                image=self.image("postgres"), user="postgres", port=PORTS["postgres"],
                resources=pg.resources, networks=(BACKEND_NET,),
                environment=(("POSTGRES_ROLE", "primary"), *common_env), secrets=secrets,
                mounts=(*conf, Mount("./postgres/init.sql", "/etc/infra-gen/init.sql"),
                        Mount("pgdata", "/var/lib/postgresql/data", False, True)),
                healthcheck=check, stop_grace_period="60s",
                tmpfs=("/tmp",),
            )
        )
        if pg.replicas:
            self.containers.append(
                Container(
                    name="postgres-replica", group="postgres-replica", kind="postgres-replica",
                    image=self.image("postgres"), user="postgres", port=PORTS["postgres"],
                    resources=pg.resources, networks=(BACKEND_NET,),
                    environment=(("POSTGRES_ROLE", "replica"), ("PRIMARY_HOST", "postgres"),
                                 *common_env),
                    secrets=secrets,
                    mounts=(*conf, Mount("pgreplica", "/var/lib/postgresql/data", False, True)),
                    depends_on=(("postgres", "service_healthy"),),
                    healthcheck=check, stop_grace_period="60s",
                    tmpfs=("/tmp",),
                )
            )
        redis = self.env.redis
        self.containers.append(
            Container(
                name="redis", group="redis", kind="redis", image=self.image("redis"),
                user="redis", port=PORTS["redis"], resources=redis.resources,
                networks=(BACKEND_NET,),
                environment=(secret_env("REDIS_PASSWORD_FILE", "redis_password"),),
                secrets=("redis_password",),
                mounts=(Mount("./redis/redis.conf", "/etc/infra-gen/redis.conf"),
                        Mount("redisdata", "/var/lib/redis", False, True)),
                healthcheck=Healthcheck(("CMD", "redis-healthcheck")),
            )
        )

    # -- derived facts --------------------------------------------------------
    def upstreams(self) -> tuple[UpstreamPool, ...]:
        pools = []
        for group in self.env.services:
            route = self.env.route_of(group)
            port = self.port_of(group)
            if route is None or port is None:
                continue
            members = self.replicas_of(group)
            pools.append(UpstreamPool(
                name=group.replace("-", "_"), group=group, route=route, port=port,
                members=members, health_path=ROLE_DEFAULTS[self.env.role_of(group)].health_path,
            ))
        # Longest route first, so /api/v2/ is matched before /api/ and / last.
        return tuple(sorted(pools, key=lambda p: (-len(p.route), p.route)))

    def scrape_jobs(self) -> tuple[ScrapeJob, ...]:
        jobs = []
        for group in self.env.services:
            port, path = self.metrics_of(group)
            if port is None:
                continue
            members = self.replicas_of(group)
            if members:
                jobs.append(ScrapeJob(group, tuple(f"{m}:{port}" for m in members), path))
        for c in self.containers:
            if c.kind.endswith("-exporter"):
                job = c.name.removesuffix("-exporter")
                jobs.append(ScrapeJob(job, (f"{c.name}:{c.port}",)))
        jobs.append(ScrapeJob("prometheus", (f"localhost:{PORTS['prometheus']}",), "/prometheus/metrics"))
        jobs.append(ScrapeJob("alertmanager", (f"alertmanager:{PORTS['alertmanager']}",),
                              "/alertmanager/metrics"))
        return tuple(jobs)

    def firewall(self) -> tuple[FirewallRule, ...]:
        fw = self.env.firewall
        rules = [FirewallRule(p, None, "load balancer") for p in sorted(self.env.published_ports())]
        rules += [
            FirewallRule(fw.ssh_port, fw.private_cidr, "ssh from the private network"),
            FirewallRule(PORTS["postgres"], fw.private_cidr, "postgresql, private network only"),
            FirewallRule(PORTS["redis"], fw.private_cidr, "redis, private network only"),
        ]
        return tuple(rules)


def plan(env: Environment) -> Topology:
    """Every fact the artifacts need, derived once from the environment."""
    p = _Planner(env)
    p.app_services()
    p.databases()
    upstreams = p.upstreams()
    p.load_balancer(upstreams)
    p.containers += exporters(env, p.image)
    p.containers += monitoring(env, p.image)
    containers = tuple(p.containers)
    secrets = sorted({s for c in containers for s in c.secrets})
    volumes = sorted({m.source for c in containers for m in c.mounts if m.named})
    base = public_base_url(env)
    if env.tls.mode is TlsMode.certbot:
        cert = f"/etc/letsencrypt/live/{env.domain}/fullchain.pem"
        key = f"/etc/letsencrypt/live/{env.domain}/privkey.pem"
    else:
        cert, key = "/etc/nginx/tls/fullchain.pem", "/etc/nginx/tls/privkey.pem"
    return Topology(
        env=env,
        compose_project=f"{env.project.replace('_', '-')}-{env.name}",
        containers=containers,
        upstreams=upstreams,
        scrape_jobs=p.scrape_jobs(),
        firewall_rules=p.firewall(),
        secrets=tuple(secrets),
        volumes=tuple(volumes),
        tls_certificate=cert,
        tls_key=key,
        urls={
            "site": f"{base}/",
            "api": f"{base}/api/",
            "prometheus": f"{base}/prometheus/",
            "alertmanager": f"{base}/alertmanager/",
            **({"grafana": f"{base}/grafana/"} if env.monitoring.grafana.enabled else {}),
        },
    )
