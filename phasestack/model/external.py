"""A managed PostgreSQL or Redis (issue 14 item 6) the stack connects to instead of running
one: RDS, Cloud SQL, Azure Database (review 000, "Recommended Production Database Services";
review 003 §8, "When Must DB Be Separated"), ElastiCache, Memorystore. Their credentials are
Secrets the team already has."""


from typing import Literal

from pydantic import Field, field_validator

from phasestack.model.base import DATA_KEY, HOST, OBJECT_NAME, Spec
from phasestack.model.egress import network

# a managed database's endpoint resolves to addresses in the VPC's private ranges
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class ExternalPostgres(Spec):
    host: str = Field(pattern=HOST, description="The primary's (writer) endpoint.")
    port: int = Field(5432, ge=1, le=65535, description="Its port.")
    read_host: str | None = Field(
        None, pattern=HOST,
        description="The read replicas' (reader) endpoint; unset: the read-only URL and "
                    "PgBouncer's <db>_ro go to the primary.")
    password_secret: str = Field(
        pattern=OBJECT_NAME,
        description="Existing Secret in the namespace with the app role's password (the "
                    "role is postgres.app_user, the database postgres.database). The password "
                    "goes into DATABASE_URL: URL-safe characters only.")
    password_key: str = Field("password", pattern=DATA_KEY,
                              description="Key of the password in password_secret.")
    sslmode: Literal["disable", "prefer", "require"] = Field(
        "require",
        description="TLS to the server: require (encrypted, as managed services expect), "
                    "prefer, or disable. Certificate verification (verify-full) is not "
                    "offered yet.")
    cidrs: list[str] = Field(
        default_factory=lambda: list(PRIVATE_NETWORKS), min_length=1, max_length=20,
        description="Where the endpoint's addresses are, for the egress NetworkPolicy "
                    "(default: the private ranges a VPC uses; name its subnets to narrow it).")

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [network(c, "is every address; name the database's subnets") for c in value]


class ExternalRedis(Spec):
    """A managed Redis (ElastiCache, Memorystore, Azure Cache; review 003 §8, "When Must Redis
    Be Separated"): redis.mode says whether it is a Cluster, redis.maxmemory_mb and masters what
    it holds, for the planner."""

    host: str = Field(pattern=HOST,
                      description="Its endpoint: the primary's, or a Cluster's configuration "
                                  "endpoint (the client's seed).")
    port: int = Field(6379, ge=1, le=65535, description="Its port.")
    tls: bool = Field(True, description="TLS in transit (rediss://), as managed services "
                                        "offer; false: plain redis://.")
    username: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="ACL user the app logs in as; unset: the default user (an AUTH token).")
    password_secret: str = Field(
        pattern=OBJECT_NAME,
        description="Existing Secret in the namespace with the password or AUTH token (it goes "
                    "into REDIS_URL: URL-safe characters only).")
    password_key: str = Field("password", pattern=DATA_KEY,
                              description="Key of the password in password_secret.")
    cidrs: list[str] = Field(
        default_factory=lambda: list(PRIVATE_NETWORKS), min_length=1, max_length=20,
        description="Where the endpoint's addresses are, for the egress NetworkPolicy.")

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [network(c, "is every address; name the cache's subnets") for c in value]
