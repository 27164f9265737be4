"""Args of Monitoring used on its own (issue 13): the stack file's `monitoring` section and the
instances of the same program it scrapes. Its Stack holds their sections (so thresholds and
alerts read them as a stack's do) and, in `targets`, their name prefixes (so each scrape job
selects that instance's pods)."""


from typing import ClassVar

from pydantic import Field, model_validator

from phasestack.model.components import (
    ApiArgs,
    NginxArgs,
    PgBouncerArgs,
    Placement,
    PostgresArgs,
    RedisArgs,
    Server,
    _section,
)
from phasestack.model.data import Redis
from phasestack.model.monitoring import Monitoring
from phasestack.model.nginx import Nginx
from phasestack.model.stack import Stack

Watched = RedisArgs | PostgresArgs | PgBouncerArgs | ApiArgs | NginxArgs


class MonitoringArgs(Monitoring, Placement):
    """Prometheus (scrape jobs, alert rules) and Grafana for instances of the same program:
    the fields of the stack file's `monitoring` section, and what it watches."""

    component: ClassVar[str] = "monitoring"
    watch: list[tuple[str, Watched]] = Field(
        default_factory=list,
        description="The instances it scrapes, each with the name it was given "
                    "(Redis(\"sessions\", args) -> (\"sessions\", args)): at most one per "
                    "component, in this namespace. Their settings set the alert thresholds, "
                    "as a stack's do.")

    @model_validator(mode="after")
    def _one_per_component(self):
        seen: dict[str, str] = {}
        for name, args in self.watch:
            if args.component in seen:
                raise ValueError(
                    f"watch: {seen[args.component]!r} and {name!r} are both {args.component} "
                    f"instances; one Monitoring scrapes one of each (its jobs are named after "
                    f"the component): make another Monitoring for the second")
            seen[args.component] = name
            if args.namespace != self.namespace:
                raise ValueError(
                    f"watch.{name}: namespace {args.namespace!r} is not the Monitoring's "
                    f"{self.namespace!r} (Prometheus finds pods through Services in its own "
                    f"namespace)")
        if "nginx" in seen and self.rps_critical is None:
            # a stack derives it from its API ceiling, i.e. its app profile, which no args carry
            raise ValueError("rps_critical: required when the Monitoring watches nginx (the "
                             "request rate NginxRequestRateCritical fires at; a stack derives "
                             "it from its app profile, which component args do not carry)")
        return self

    def stack(self, prefix: str) -> "Stack":
        by_key = {args.component: (name, args) for name, args in self.watch}
        sections, targets = {}, {}
        for key, (name, args) in by_key.items():
            sections[key] = getattr(args.stack(f"{name}-"), key)
            targets[key] = f"{name}-"
        if "postgres" not in sections:  # the server a watched PgBouncer or API connects to
            server = by_key.get("pgbouncer", by_key.get("api", (None, None)))[1]
            if server is not None:
                sections["postgres"] = args_server(server).postgres()
        return Stack(namespace=self.namespace, prefix=prefix, targets=targets,
                     monitoring=_section(self, Monitoring),
                     **{"redis": Redis(enabled=False), "nginx": Nginx(enabled=False),
                        **sections})


def args_server(args: PgBouncerArgs | ApiArgs) -> "Server":
    """The PostgreSQL a PgBouncer pools or an API connects to."""
    return args.server if isinstance(args, PgBouncerArgs) else args.database
