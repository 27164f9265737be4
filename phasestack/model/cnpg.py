"""PostgreSQL run by the CloudNativePG operator (issue 16): `postgres.engine: cloudnativepg`.

The operator fails over on its own (it promotes the most advanced standby when the primary's
pod or node is lost and moves the -rw Service), archives WAL and takes base backups with Barman
Cloud, and restores to a point in time into a new Cluster. phasestack renders the `Cluster`
(and a `ScheduledBackup`); the operator, CloudNativePG's release manifest vendored in
phasestack/vendor/, is applied by the Pulumi program unless the cluster already runs it.
"""


from typing import Literal

from pydantic import Field

from phasestack.model.base import IMAGE, OBJECT_NAME, Spec

OPERATOR_VERSION = "1.30.1"  # phasestack/vendor/cnpg-1.30.1.yaml.gz, toolchain/cnpg.sh
OPERATOR_NAMESPACE = "cnpg-system"
# RFC 3339 with its offset, as recoveryTarget.targetTime takes it
RFC3339 = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
           r"(Z|[+-][0-9]{2}:[0-9]{2})$")


class Recovery(Spec):
    server_name: str = Field(
        pattern=OBJECT_NAME,
        description="The archive to restore from: the server_name the lost cluster archived "
                    "under (postgres.backup.server_name is where this one archives: a new "
                    "name, so two timelines never mix).")
    target_time: str | None = Field(
        None, pattern=RFC3339,
        description="Restore up to this time (RFC 3339 with offset, e.g. "
                    "2026-12-04T09:30:00Z); unset: to the end of the archive.")


# "system" images carry Barman Cloud, which the Cluster's barmanObjectStore backup runs (and
# the StatefulSet engine's backup sidecar); 15.x: the major of the StatefulSet's postgres:15-alpine
OPERAND_IMAGE = "ghcr.io/cloudnative-pg/postgresql:15.14-system-trixie"


class CloudNativePG(Spec):
    image: str = Field(
        OPERAND_IMAGE, pattern=IMAGE,
        description="PostgreSQL operand image (CloudNativePG's own: UID 26; a -system- image "
                    "has the Barman Cloud tools postgres.backup needs). Its tag starts with "
                    "the major version, which the operator reads.")
    install_operator: bool = Field(
        True, description="The Pulumi program applies the CloudNativePG operator "
                          f"{OPERATOR_VERSION} (release manifest, into {OPERATOR_NAMESPACE}); "
                          "false: the cluster already runs it (one operator per cluster: a "
                          "second stack there sets false). `phasestack render` never includes "
                          "it and lists it as a prerequisite.")
    # review 004 ("Read Replicas ... Automatic failover") on payment systems: a failover must
    # not lose what was acknowledged
    synchronous: Literal["required", "preferred", "off"] = Field(
        "required",
        description="With read replicas, a commit returns once one standby has it (quorum "
                    "ANY 1): required: a failover loses no acknowledged transaction, and "
                    "writes wait while no standby is up; preferred: writes go on without a "
                    "standby (and a failover then may lose the last ones); off: asynchronous.")
    anti_affinity: Literal["preferred", "required"] = Field(
        "preferred",
        description="Keep instances on different nodes: preferred where the cluster allows, "
                    "required refuses to schedule two on one node (needs a node per "
                    "instance).")
    # issue 16: a stack moving from the StatefulSet engine (phase1 -> phase2) must not point
    # its app at an empty database
    import_from_statefulset: bool = Field(
        False,
        description="Create the Cluster's database as a copy of the statefulset engine's "
                    "primary (CloudNativePG's initdb import: pg_dump, as the app role, while "
                    "the Cluster is created), which keeps running beside it (its StatefulSet, "
                    "Service and volume are still rendered) until this is false. The phase2 "
                    "and phase3 presets set it, so a `pulumi up` from phase1 keeps the data; "
                    "PgBouncer and the API move to the Cluster once it is ready (Pulumi waits "
                    "for it). Stop writes for the move: commits made during the copy stay on "
                    "the old primary only. Read only when the Cluster is created; "
                    "recover_from, when set, is the source instead.")
    recover_from: Recovery | None = Field(
        None, description="Create the Cluster from postgres.backup's store instead of an empty "
                          "database: the disaster-recovery path `phasestack restore` prints. "
                          "Read only when the Cluster is created.")

    @property
    def imports(self) -> bool:
        """The Cluster is created as a copy of the old primary (a restore, recover_from, wins:
        its archive is the newer data)."""
        return self.import_from_statefulset and self.recover_from is None
