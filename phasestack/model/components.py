"""Args of the components used on their own in a Pulumi program (issue 13).

Each is its stack-file section (the same fields and defaults: the section's model is the base
class, so there is one model, not two) plus where the instance goes. `stack(prefix)` is the
one-component Stack its synthesizer reads; the prefix, from the instance's name, keeps two
instances apart in one namespace. A named instance renders no Namespace and no NetworkPolicy:
the namespace and its policies are the program's.
"""


from typing import ClassVar, Literal

from pydantic import Field, ValidationError, model_validator

from phasestack.model.base import DATA_KEY, DNS_LABEL, SQL_NAME, Spec
from phasestack.model.data import PgBouncer, Postgres, Redis
from phasestack.model.external import ExternalPostgres, ExternalRedis
from phasestack.model.nginx import Nginx
from phasestack.model.services import Api
from phasestack.model.stack import Stack


class Placement(Spec):
    component: ClassVar[str]  # its catalog key: the stack section it is

    namespace: str = Field(
        pattern=DNS_LABEL,
        description="Namespace the instance goes in: an existing one, or one the program "
                    "creates (not default or kube-*).")

    @model_validator(mode="after")
    def _as_a_stack(self):
        """The stack's rules that span sections (the namespace, PgBouncer's connection
        budget) refuse bad args when they are made, not at `pulumi up`. Each args class
        defines stack()."""
        try:
            self.stack("")
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{where + ': ' if where else ''}"
                             f"{first['msg'].removeprefix('Value error, ')}") from None
        return self


def _section(args: Spec, model: type[Spec]) -> "Spec":
    """The stack-file section inside a component's args."""
    return model.model_validate(args.model_dump(include=set(model.model_fields)))


class RedisArgs(Redis, Placement):
    """Redis standalone or Cluster: the fields of the stack file's `redis` section."""

    component: ClassVar[str] = "redis"

    enabled: Literal[True] = Field(True, description="Always true: this is the Redis.")

    def stack(self, prefix: str) -> "Stack":
        return Stack(namespace=self.namespace, prefix=prefix, redis=_section(self, Redis))


class PostgresArgs(Postgres, Placement):
    """PostgreSQL primary and read replicas: the fields of the stack file's `postgres`."""

    component: ClassVar[str] = "postgres"

    def stack(self, prefix: str) -> "Stack":
        return Stack(namespace=self.namespace, prefix=prefix, postgres=_section(self, Postgres))


class Server(ExternalPostgres):
    """An existing PostgreSQL (a managed one, or a Postgres instance of the same program): a
    stack's postgres.external, and the database, role and max_connections it serves."""

    password_key: str = Field("app-password", pattern=DATA_KEY,
                              description="Key of the password in password_secret (a "
                                          "Postgres instance's password_key).")
    sslmode: Literal["disable", "prefer", "require"] = Field(
        "prefer", description="TLS to the server: prefer (a managed server's TLS, a Postgres "
                              "instance's plain connection), require, or disable.")
    database: str = Field("app", pattern=SQL_NAME, description="Database the app uses.")
    user: str = Field("app", pattern=SQL_NAME, description="Role the app logs in as.")
    max_connections: int = Field(
        200, ge=10, le=10_000,
        description="The server's max_connections: PgBouncer's server connections must fit "
                    "in it (the same budget rule as a stack's).")

    def postgres(self) -> "Postgres":
        """The stack's postgres section for this server: managed (external)."""
        return Postgres(database=self.database, app_user=self.user,
                        max_connections=self.max_connections,
                        external=ExternalPostgres.model_validate(
                            self.model_dump(include=set(ExternalPostgres.model_fields))))


class PgBouncerArgs(PgBouncer, Placement):
    """PgBouncer in front of an existing PostgreSQL: the fields of the stack file's
    `pgbouncer` section, and the server."""

    component: ClassVar[str] = "pgbouncer"

    enabled: Literal[True] = Field(True, description="Always true: this is the PgBouncer.")
    server: Server = Field(description="The PostgreSQL the pools connect to.")

    def stack(self, prefix: str) -> "Stack":
        return Stack(namespace=self.namespace, prefix=prefix, postgres=self.server.postgres(),
                     pgbouncer=_section(self, PgBouncer))


class RedisServer(ExternalRedis):
    """An existing Redis the app connects to (a managed one, or a Redis instance of the same
    program: its host, and password_secret its secret_name): a stack's redis.external, and
    whether it is a Cluster."""

    mode: Literal["standalone", "cluster"] = Field(
        "standalone", description="A Cluster: host is its seed (configuration endpoint).")
    tls: bool = Field(False, description="TLS in transit (rediss://); a Redis instance of "
                                         "the same program serves plain text.")
    password_key: str = Field("redis-password", pattern=DATA_KEY,
                              description="Key of the password in password_secret (a Redis "
                                          "instance's password_key).")
    username: str | None = Field(
        "app", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="ACL user (a Redis instance's `username`); None: the default user (a "
                    "managed Redis's AUTH token).")


class ApiArgs(Api, Placement):
    """The API Deployment, its workers and migration Job: the fields of the stack file's `api`
    section, and the PostgreSQL and Redis it connects to."""

    component: ClassVar[str] = "api"

    database: Server = Field(description="The PostgreSQL the app's DATABASE_URL names (a "
                                         "PgBouncer or Postgres instance, or a managed one).")
    redis: RedisServer | None = Field(None, description="The Redis of REDIS_URL (or "
                                                        "REDIS_CLUSTER_NODES); unset: none.")

    def stack(self, prefix: str) -> "Stack":
        if self.redis is None:
            redis = Redis(enabled=False)
        else:
            shape = {"masters": 3, "replicas_per_master": 1} if self.redis.mode == "cluster" \
                else {}
            redis = Redis(mode=self.redis.mode, **shape, external=ExternalRedis.model_validate(
                self.redis.model_dump(include=set(ExternalRedis.model_fields))))
        # nginx is another component (NginxArgs): here the API's Service is the entry
        return Stack(namespace=self.namespace, prefix=prefix, api=_section(self, Api),
                     postgres=self.database.postgres(), redis=redis,
                     nginx=Nginx(enabled=False))


class NginxArgs(Nginx, Placement):
    """nginx in front of an Api instance of the same name (LoadBalancer("shop", ...) proxies
    to Api("shop", ...)'s shop-api-headless): the fields of the stack file's `nginx` section."""

    component: ClassVar[str] = "nginx"

    enabled: Literal[True] = Field(True, description="Always true: this is the nginx.")
    api_port: int = Field(9898, ge=1, le=65535, description="The Api instance's port.")

    def stack(self, prefix: str) -> "Stack":
        return Stack(namespace=self.namespace, prefix=prefix, nginx=_section(self, Nginx),
                     api=Api(port=self.api_port))

