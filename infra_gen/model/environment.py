"""The Environment: one typed description of a whole deployment."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, StringConstraints, model_validator

from .common import Doc, DomainName, Identifier, SecretsDir, SshAlias, StrictModel, located
from .error_tracking import ErrorTracking
from .operations import Alerting, Backups, Firewall, Logging, Monitoring, Ssh
from .overrides import Overrides
from .platform import Images, LoadBalancer, Postgres, Redis, Tls, TlsMode
from .registry import ModelRegistry
from .reserved import DATASTORE_PORTS, RESERVED_SERVICE_NAMES, route_collision
from .roles import ROLE_SPECS
from .services import AppService, Role
from .swarm import NodeRole, SwarmNode, UpdatePolicy

_PROJECT_NAME = r"^[a-z][a-z0-9_]{0,40}$"
ProjectName = Annotated[
    str,
    StringConstraints(max_length=41, pattern=_PROJECT_NAME),
    Doc("Lower-case letters, digits and _, starting with a letter."),
]


class EndpointMode(StrEnum):
    vip = "vip"
    dnsrr = "dnsrr"


def _with_default(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of tree with value at path unless one is set there (or a level is not a mapping)."""
    head, *rest = path
    if not rest:
        return {head: value, **tree}
    child = tree.get(head, {})
    if not isinstance(child, dict):
        return tree
    return {**tree, head: _with_default(child, tuple(rest), value)}


class Deploy(StrictModel):
    swarm: bool = False
    """Also render a Docker Swarm stack file (docker stack deploy)."""
    endpoint_mode: EndpointMode = EndpointMode.dnsrr
    """How a swarm service name resolves. dnsrr: to every task's address (nginx and
    Prometheus see each replica; needs no IPVS in the kernel). vip: to one virtual IP
    that IPVS balances (a scale needs no nginx reload, but nginx's passive health
    checks then judge the whole service, not a replica)."""
    secrets_dir: SecretsDir = "../../.secrets/{env}"
    """Directory holding one file per secret, relative to generated/<env>/ or
    absolute; {env} is replaced by the environment name. Never committed."""
    nodes: dict[SshAlias, SwarmNode] = Field(default={}, max_length=100)
    """Swarm nodes by their ssh.hosts alias, with their roles: rendered as node labels
    and placement constraints in stack.yaml. Empty: no placement (any node runs
    anything, and volumes stay wherever a task first ran)."""
    update: UpdatePolicy = UpdatePolicy()
    """Rolling updates and rollbacks on swarm: one task at a time, watched, rolled
    back on failure."""


GitRepository = Annotated[
    str,
    StringConstraints(
        max_length=300,
        pattern=r"^(https://|ssh://git@)[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~-]{1,100}){1,8}$",
    ),
    Doc("A git repository URL: https://host/path or ssh://git@host/path."),
]
INFRA_GEN_REPOSITORY = "https://github.com/infra-gen/infra-gen"


class Ci(StrictModel):
    infra_gen_repository: GitRepository = INFRA_GEN_REPOSITORY
    """Git repository infra-gen's releases are tagged in (vX.Y.Z): the generated
    workflow installs infra-gen from it, at the tag of the version that rendered the
    tree (a fork or a mirror of your own goes here)."""


class Environment(StrictModel):
    name: Identifier
    """Environment name; must match the file name (prod.yaml -> prod)."""
    project: ProjectName
    """Project name: prefixes the compose project, the host directories of the environment
    (/opt/<project>/<env>), the logs (/var/log/<project>) and backups (/var/backups/<project>)
    unless those are set, and the names of backup files, cron and logrotate entries."""
    domain: DomainName
    """Public domain the load balancer serves."""
    tls: Tls = Tls()
    """How HTTPS is terminated."""
    load_balancer: LoadBalancer = LoadBalancer()
    """The nginx load balancer in front of every routed service."""
    services: dict[Identifier, AppService] = Field(max_length=50)
    """Application services by name. frontend, api, worker and ml are the bundled
    app; any other name needs a role and gets every artifact with no template edit."""
    postgres: Postgres = Postgres()
    """PostgreSQL primary and streaming replica."""
    redis: Redis = Redis()
    """Redis: Celery broker and API cache."""
    monitoring: Monitoring = Monitoring()
    """Prometheus, its alert rules and Grafana."""
    alerting: Alerting
    """Alertmanager routing and receivers."""
    logging: Logging = Logging()
    """fluentd shipping and logrotate."""
    firewall: Firewall = Firewall()
    """UFW rules of the host."""
    backups: Backups = Backups()
    """Database dumps and model archives, with retention."""
    error_tracking: ErrorTracking = ErrorTracking()
    """Unhandled errors of the app reported to a Sentry-protocol server (or a sink)."""
    ml_registry: ModelRegistry = ModelRegistry()
    """MLflow tracking server and model registry the ML service loads its model from."""
    ssh: Ssh = Ssh()
    """SSH access through a bastion."""
    images: Images = Images()
    """Image names and tags."""
    deploy: Deploy = Deploy()
    """How the stack is deployed."""
    ci: Ci = Ci()
    """The generated CI workflow (ci/github-workflow.yml)."""
    overrides: Overrides = Overrides()
    """Patches of the files built from data, for what the model does not cover
    (docs/contract.md, "Overrides"); `validate` checks the patched files."""

    _places: dict[tuple[str | int, ...], tuple[str, int]] = PrivateAttr(default_factory=dict)
    """Where each value under overrides was written (file, line), set by the loader:
    a patch that does not apply is reported at its line."""

    @model_validator(mode="after")
    @located
    def _nodes_are_a_cluster(self) -> Environment:
        nodes = self.deploy.nodes
        if not nodes:
            return self
        if not self.deploy.swarm:
            raise ValueError("deploy.nodes: only for a swarm (set deploy.swarm: true)")
        for alias in nodes:
            if alias not in self.ssh.hosts:
                raise ValueError(f"deploy.nodes.{alias}: not an ssh.hosts alias (deploy reaches "
                                 f"each node through the bastion; known: "
                                 f"{', '.join(sorted(self.ssh.hosts)) or 'none'})")
        managers = [a for a, n in nodes.items() if n.manager]
        if len(managers) % 2 == 0:
            raise ValueError(f"deploy.nodes: {len(managers)} managers; swarm needs an odd "
                             "number (1, 3, 5) for a Raft majority (set manager: true)")
        for role in NodeRole:
            if not [a for a, n in nodes.items() if role in n.roles]:
                raise ValueError(f"deploy.nodes: no node has role {role.value} (every "
                                 f"{role.value} service would stay pending)")
        db = [a for a, n in nodes.items() if NodeRole.db in n.roles]
        if self.postgres.replicas and len(db) < 2:
            raise ValueError(f"deploy.nodes: postgres.replicas is {self.postgres.replicas}: the "
                             "replica needs a second db node (one node losing both copies is "
                             "no replica)")
        return self

    def role_of(self, service: str) -> Role | None:
        """The role of a service: explicit, or its name when that names a role; None for
        a service with its own image."""
        svc = self.services[service]
        if svc.image is not None:
            return None
        return svc.role if svc.role is not None else Role(service)

    @model_validator(mode="before")
    @classmethod
    @located
    def _project_names_the_directories(cls, data: Any) -> Any:
        """logging.logrotate.log_dir and backups.directory default to the project's."""
        project = data.get("project") if isinstance(data, dict) else None
        # A bad project name is reported once, on its own field, not again on
        # every directory derived from it.
        if not isinstance(project, str) or not re.fullmatch(_PROJECT_NAME, project):
            return data
        data = _with_default(data, ("logging", "logrotate", "log_dir"), f"/var/log/{project}")
        return _with_default(data, ("backups", "directory"), f"/var/backups/{project}")

    @model_validator(mode="after")
    @located
    def _every_service_has_a_role(self) -> Environment:
        roles = {r.value for r in Role}
        for name, svc in self.services.items():
            if svc.role is None and svc.image is None and name not in roles:
                raise ValueError(
                    f"services.{name}.role: required for a service not named {', '.join(sorted(roles))} "
                    "needs a role"
                )
        return self

    @model_validator(mode="after")
    @located
    def _names_and_routes_are_the_users(self) -> Environment:
        for name in self.services:
            if name in RESERVED_SERVICE_NAMES:
                raise ValueError(
                    f"services.{name}: the stack's own containers already use the name {name!r}"
                )
            owner, dash, number = name.rpartition("-")
            if dash and number.isdigit() and owner in self.services:
                raise ValueError(
                    f"services.{name}: {name!r} is the name of a replica of services.{owner}"
                )
            route = self.route_of(name)
            clash = route_collision(route) if route is not None else None
            if clash:
                raise ValueError(f"services.{name}.route: {route!r} would shadow {clash}")
        return self

    @model_validator(mode="after")
    @located
    def _dependencies_exist(self) -> Environment:
        known = set(self.services) | {"postgres", "redis"}
        for name, svc in self.services.items():
            for dep in svc.depends_on:
                if dep not in known or dep == name:
                    raise ValueError(f"services.{name}.depends_on: {dep!r} is not another "
                                     f"service (known: {', '.join(sorted(known - {name}))})")
        return self

    @model_validator(mode="after")
    @located
    def _log_sink_reachable(self) -> Environment:
        fluentd = self.logging.fluentd
        es = fluentd.elasticsearch
        if fluentd.enabled and es.network is None and es.host not in self.services:
            raise ValueError(
                f"logging.fluentd.elasticsearch.network: needed, because host {es.host!r} is "
                "not a service of this stack and fluentd's network (backend-net) has no route "
                "out; name the Docker network on which it answers")
        return self

    @model_validator(mode="after")
    @located
    def _one_service_per_route(self) -> Environment:
        seen: dict[str, str] = {}
        for name in self.services:
            route = self.route_of(name)
            if route is None:
                continue
            if route in seen:
                raise ValueError(
                    f"services.{name}.route: {route!r} is already the route of "
                    f"services.{seen[route]}"
                )
            seen[route] = name
        return self

    @model_validator(mode="after")
    @located
    def _firewall_matches_load_balancer(self) -> Environment:
        published = sorted(self.published_ports())
        if sorted(set(self.firewall.public_ports)) != published:
            raise ValueError(
                f"firewall.public_ports: {sorted(self.firewall.public_ports)} must be exactly "
                f"the load balancer's published ports {published} "
                "(load_balancer.http_port / https_port)"
            )
        return self

    @model_validator(mode="after")
    @located
    def _registry_has_its_own_database(self) -> Environment:
        reg, pg = self.ml_registry, self.postgres
        if not reg.enabled:
            return self
        if reg.database == pg.database:
            raise ValueError(f"ml_registry.database: {reg.database!r} is the app's database "
                             "(postgres.database); the registry needs its own")
        if reg.user == pg.user:
            raise ValueError(f"ml_registry.user: {reg.user!r} is the app's role "
                             "(postgres.user); the registry logs in as its own")
        if not any(self.role_of(n) is Role.ml for n in self.services):
            raise ValueError("ml_registry.enabled: no service with role ml loads from it")
        return self

    @model_validator(mode="after")
    @located
    def _stack_override_needs_swarm(self) -> Environment:
        if self.overrides.stack is not None and not self.deploy.swarm:
            raise ValueError("overrides.stack: deploy.swarm is off, so there is no stack.yaml")
        return self

    @model_validator(mode="after")
    @located
    def _needs_an_api(self) -> Environment:
        if not any(self.role_of(n) is Role.api for n in self.services):
            raise ValueError("services: at least one service with role api is needed")
        return self

    @model_validator(mode="after")
    @located
    def _running_what_others_need(self) -> Environment:
        for name, svc in self.services.items():
            if svc.replicas == 0 and self.route_of(name) is not None:
                raise ValueError(
                    f"services.{name}.replicas: a routed service ({self.route_of(name)}) needs "
                    "at least 1 replica (the load balancer waits for its first one)"
                )
        workers = [n for n in self.services
                   if self.role_of(n) is Role.worker and self.services[n].replicas]
        for name, svc in self.services.items():
            if self.role_of(name) is Role.ml and svc.replicas == 0 and workers:
                raise ValueError(
                    f"services.{name}.replicas: services.{workers[0]} (a worker) calls the ml "
                    "service, which needs at least 1 replica"
                )
        return self

    @model_validator(mode="after")
    @located
    def _private_ports_are_not_public(self) -> Environment:
        lb = self.load_balancer
        if self.tls.mode is not TlsMode.none and lb.http_port == lb.https_port:
            raise ValueError(
                f"load_balancer.https_port: {lb.https_port} is also load_balancer.http_port"
            )
        public = "load_balancer.http_port" if lb.http_port in DATASTORE_PORTS.values() \
            else "load_balancer.https_port"
        private = {"the SSH port": ("firewall.ssh_port", self.firewall.ssh_port)}
        private |= {f"the {name} port": (public, port) for name, port in DATASTORE_PORTS.items()}
        for what, (field, port) in private.items():
            if port in self.published_ports():
                raise ValueError(
                    f"{field}: {port} is {what}, private (firewall.private_cidr only): it "
                    "cannot also be a public port of the load balancer"
                )
        return self

    def route_of(self, service: str) -> str | None:
        svc = self.services[service]
        role = self.role_of(service)
        if role is None:
            return svc.route
        default = ROLE_SPECS[role].route
        if default is None:
            return None
        return svc.route if svc.route is not None else default

    def published_ports(self) -> set[int]:
        lb = self.load_balancer
        if self.tls.mode is TlsMode.none:
            return {lb.http_port}
        return {lb.http_port, lb.https_port}


# Field is re-exported for callers building models in tests.
__all__ = ["Ci", "Deploy", "Environment", "Field"]
