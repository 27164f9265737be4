"""Typed topology model: the one place where defaults live (DESIGN.md layer 1).

Every model is frozen, refuses unknown keys, inf and NaN, bounds its numbers, and documents
each field. Phase presets (phasestack.phases) and stack files only override these defaults.
"""

from phasestack.model.app import EnvFrom, InjectedNames, Process, Scheduling, SecretKey, Toleration
from phasestack.model.base import Hpa, Resources, Spec, cpu_cores, memory_bytes
from phasestack.model.components import (
    ApiArgs,
    NginxArgs,
    PgBouncerArgs,
    PostgresArgs,
    RedisArgs,
    RedisServer,
    Server,
)
from phasestack.model.data import (
    MONITOR_USER,
    REPLICATION_USER,
    RESERVED_ROLES,
    SUPERUSER,
    PgBouncer,
    Postgres,
    Redis,
)
from phasestack.model.load import AppProfile, LoadTarget
from phasestack.model.monitoring_args import MonitoringArgs
from phasestack.model.nginx import Nginx
from phasestack.model.services import Api, Worker
from phasestack.model.stack import PHASES, RESERVED_NAMESPACES, Monitoring, Stack  # noqa: I001

__all__ = ["ApiArgs", "MonitoringArgs", "NginxArgs", "RedisServer",
           "MONITOR_USER", "PHASES", "REPLICATION_USER", "RESERVED_NAMESPACES", "RESERVED_ROLES",
           "SUPERUSER", "Api", "AppProfile", "EnvFrom", "Hpa", "InjectedNames", "Process",
           "Scheduling", "SecretKey", "Toleration",
           "LoadTarget", "Monitoring", "Nginx", "PgBouncer", "PgBouncerArgs", "Postgres",
           "PostgresArgs", "Redis", "RedisArgs", "Resources", "Server", "Spec", "Stack", "Worker",
           "cpu_cores", "memory_bytes"]
