"""PostgreSQL synthesizer: topology per phase, settings, init SQL, no secrets, strict schemas."""

from __future__ import annotations

import json
import re

import pytest

from phasestack.model import Postgres, Stack
from phasestack.stackfile import list_stack_files, load, project_root, stack_name
from phasestack.synth import postgres
from phasestack.synth.common import Flow
from tests.unit.conftest import statefulset
from tests.unit.crd_schema import validate_strict

STACKS = [stack_name(p) for p in list_stack_files(project_root())]


def by_kind(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def settings(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def containers(doc: dict) -> dict[str, dict]:
    spec = doc["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def test_model_defaults():
    pg = Postgres()
    assert (pg.max_connections, pg.superuser_reserved_connections, pg.read_replicas) == (200, 3, 0)
    # review 003 (003_dcc3c24c5985e7cb.txt), section 5 "Could a Bad Query Lock Full Table?"
    assert (pg.statement_timeout_s, pg.lock_timeout_s) == (30, 5)


@pytest.mark.parametrize("phase, replicas", [("mvp", 0), ("phase1", 0), ("phase2", 1),
                                             ("phase3", 3)])
def test_topology_per_phase(phase, replicas):
    # review 002 (002_f99052a1f9a0162e.txt), PostgreSQL Scaling Roadmap: 1 then 3 replicas
    stack = statefulset(load(phase).stack)  # phase2 and phase3 run CloudNativePG: test_synth_cnpg
    docs = postgres.manifests(stack)
    (primary,) = by_kind(docs, "StatefulSet", "postgres")
    assert primary["spec"]["replicas"] == 1
    assert primary["spec"]["serviceName"] == "postgres-headless"
    (rw,) = by_kind(docs, "Service", "postgres")
    assert rw["spec"]["selector"] == {"app.kubernetes.io/name": "postgres"}
    (headless,) = by_kind(docs, "Service", "postgres-headless")
    assert headless["spec"]["clusterIP"] == "None"
    # one headless Service names every database pod (primary and replicas) for the StatefulSets
    assert headless["spec"]["selector"] == {"app.kubernetes.io/component": "postgres",
                                            "app.kubernetes.io/part-of": "phasestack"}
    replica_sets = by_kind(docs, "StatefulSet", "postgres-replica")
    ro = by_kind(docs, "Service", "postgres-ro")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    if replicas == 0:
        assert replica_sets == [] and ro == [] and pdbs == []
        assert postgres.flows(stack) == []
        return
    assert replica_sets[0]["spec"]["replicas"] == stack.postgres.read_replicas == replicas
    assert ro[0]["spec"]["selector"] == {"app.kubernetes.io/name": "postgres-replica"}
    assert replica_sets[0]["spec"]["template"]["metadata"]["labels"][
        "app.kubernetes.io/name"] == "postgres-replica"
    assert [p["metadata"]["name"] for p in pdbs] == (["postgres-replica"] if replicas >= 2 else [])
    assert postgres.flows(stack) == [Flow("postgres-replica", "postgres", 5432)]


def test_postgresql_conf_values():
    stack = load("phase3").stack
    conf = settings(postgres.postgresql_conf(stack))
    assert conf["max_connections"] == "200"
    assert conf["superuser_reserved_connections"] == "3"
    assert conf["shared_buffers"] == "256MB"
    assert conf["wal_level"] == "replica"
    # a fixed ceiling (PostgreSQL's default 10), not 3 replicas + 2: no primary restart per
    # replica-count change
    assert (conf["max_wal_senders"], conf["max_replication_slots"]) == ("10", "10")
    assert conf["hot_standby"] == "on"
    assert conf["listen_addresses"] == "'*'"
    assert conf["password_encryption"] == "scram-sha-256"
    assert conf["hba_file"] == "'/etc/postgresql/pg_hba.conf'"
    changed = stack.model_copy(update={"postgres": stack.postgres.model_copy(
        update={"max_connections": 321, "read_replicas": 0})})
    conf = settings(postgres.postgresql_conf(changed, port=6000, listen_addresses="127.0.0.1"))
    assert (conf["max_connections"], conf["max_wal_senders"]) == ("321", "10")
    assert (conf["port"], conf["listen_addresses"]) == ("6000", "'127.0.0.1'")


@pytest.mark.parametrize(("replicas", "senders"), [(0, 10), (1, 10), (3, 10), (8, 10), (9, 11),
                                                   (10, 12)])
def test_wal_senders_stay_put_until_the_replicas_need_more(replicas, senders):
    stack = load("phase3").stack
    changed = stack.model_copy(update={"postgres": stack.postgres.model_copy(
        update={"read_replicas": replicas})})
    conf = settings(postgres.postgresql_conf(changed))
    assert (conf["max_wal_senders"], conf["max_replication_slots"]) == (str(senders),) * 2


def test_postgresql_conf_preloads_pg_stat_statements():
    # review 002 query-latency alert: the exporter's stat_statements collector needs the library
    for name in STACKS:
        conf = settings(postgres.postgresql_conf(load(name).stack))
        assert conf["shared_preload_libraries"] == "'pg_stat_statements'", name
        assert conf["pg_stat_statements.track"] == "top", name


def test_init_sql_creates_pg_stat_statements_where_the_exporter_reads_it():
    sql = postgres.init_sql(load("phase1").stack)
    tail = sql[sql.index("ALTER SCHEMA public OWNER TO app;"):]
    # in the exporter's database (postgres) and the app's, after the app database exists
    assert re.findall(r"\\connect (\w+)\nCREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
                      tail) == ["postgres", "app"]
    custom = Stack(postgres={"database": "postgres"})
    assert postgres.init_sql(custom).count("CREATE EXTENSION IF NOT EXISTS pg_stat_statements") == 1


def test_exporter_runs_the_stat_statements_collector():
    for name in STACKS:
        for sts in by_kind(postgres.manifests(load(name).stack), "StatefulSet"):
            exporter = containers(sts)["postgres-exporter"]
            assert exporter["args"] == ["--collector.stat_statements"], name
            env = {e["name"]: e.get("value") for e in exporter["env"]}
            assert env["DATA_SOURCE_URI"] == "127.0.0.1:5432/postgres?sslmode=disable"


def test_pg_hba_is_scram_only():
    rules = [line.split() for line in postgres.pg_hba(load("phase2").stack).splitlines()
             if line and not line.startswith("#")]
    assert ["host", "replication", "replicator", "all", "scram-sha-256"] in rules
    assert ["host", "all", "all", "all", "scram-sha-256"] in rules
    assert {r[-1] for r in rules} == {"peer", "scram-sha-256", "reject"}
    assert all(r[0] == "local" for r in rules if r[-1] == "peer")
    # the superuser never over TCP, and the reject comes before any host line could match it
    hosts = [r for r in rules if r[0] == "host"]
    assert hosts[0] == ["host", "all", "postgres", "all", "reject"]


def test_exporter_is_the_monitoring_role_not_the_superuser():
    for name in STACKS:
        for sts in by_kind(postgres.manifests(load(name).stack), "StatefulSet"):
            env = {e["name"]: e for e in containers(sts)["postgres-exporter"]["env"]}
            assert env["DATA_SOURCE_USER"]["value"] == "exporter", name
            assert env["DATA_SOURCE_PASS_FILE"]["value"] == \
                "/run/secrets/monitor/monitor-password", name
    sql = postgres.init_sql(load("phase2").stack)
    assert "CREATE ROLE exporter LOGIN PASSWORD :'monitor_password'\n  CONNECTION LIMIT 2 " \
           "IN ROLE pg_monitor;" in sql


def test_init_sql_sets_review_003_timeouts_and_roles():
    sql = postgres.init_sql(load("phase1").stack)
    assert "ALTER ROLE app SET statement_timeout = '30s';" in sql
    assert "ALTER ROLE app SET lock_timeout = '5s';" in sql
    assert "CREATE ROLE app LOGIN PASSWORD :'app_password';" in sql
    assert "CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'replication_password';" in sql
    custom = Stack(postgres={"app_user": "shop", "statement_timeout_s": 10, "lock_timeout_s": 2})
    sql = postgres.init_sql(custom)
    assert "ALTER ROLE shop SET statement_timeout = '10s';" in sql
    assert "ALTER ROLE shop SET lock_timeout = '2s';" in sql


def test_scripts_take_passwords_from_the_environment():
    stack = load("phase2").stack
    script = postgres.init_script(stack)
    assert '-v app_password="$APP_PASSWORD"' in script
    assert "-f \"$INIT_SQL\"" in script
    boot = postgres.replica_bootstrap_script(stack)
    assert 'PRIMARY_HOST="${PRIMARY_HOST:-postgres.ps-phase2.svc.cluster.local}"' in boot
    assert "pg_basebackup" in boot and " -R -X stream" in boot
    assert '-U "$REPLICATION_USER"' in boot and 'REPLICATION_USER:-replicator' in boot


@pytest.mark.parametrize("name", STACKS)
def test_no_password_in_any_configmap_and_secrets_by_reference(name):
    stack = load(name).stack
    docs = postgres.manifests(stack)
    for cm in by_kind(docs, "ConfigMap"):
        for key, text in cm["data"].items():
            # SQL passwords are psql variables, shell ones environment variables: no literal
            for value in re.findall(r"\bPASSWORD\s+(\S+)", text):
                assert value.startswith(":'"), (key, value)
            for value in re.findall(r"password=(\S+)", text, flags=re.IGNORECASE):
                assert value.startswith(('"$', "...")), (key, value)
    assert "stringData" not in json.dumps(docs) and not by_kind(docs, "Secret")
    # every password is a file of a Secret volume (checkov CKV_K8S_35), none in an environment
    for doc in by_kind(docs, "StatefulSet"):
        spec = doc["spec"]["template"]["spec"]
        files = {f"/run/secrets/{v['name']}/{item['path']}": v["secret"]["secretName"]
                 for v in spec["volumes"] if "secret" in v for item in v["secret"]["items"]}
        for c in [*spec["containers"], *spec.get("initContainers", [])]:
            mounted = {m["mountPath"] for m in c.get("volumeMounts", [])}
            for env in c.get("env", []):
                # but the object store's access key: Barman Cloud (boto3) reads it from there
                if c["name"] in ("backup", "restore") and env["name"].startswith("AWS_"):
                    continue
                assert "secretKeyRef" not in env.get("valueFrom", {}), env
                if "PASS" in env["name"]:
                    assert env["name"].endswith("_FILE"), env
                    assert files[env["value"]] == "postgres-credentials", env
                    assert env["value"].rsplit("/", 1)[0] in mounted, (c["name"], env)


def test_primary_pod_spec():
    stack = load("phase2").stack
    (primary,) = by_kind(postgres.manifests(stack), "StatefulSet", "postgres")
    spec = primary["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 70
    assert spec["automountServiceAccountToken"] is False
    c = containers(primary)
    pg, exporter = c["postgres"], c["postgres-exporter"]
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"} in pg["env"]
    assert pg["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert pg["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert exporter["image"].startswith("quay.io/prometheuscommunity/postgres-exporter")
    assert exporter["ports"][0]["containerPort"] == 9187
    assert primary["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {
        "storage": "20Gi"}
    init = next(v for v in spec["volumes"] if v["name"] == "initdb")
    assert init["configMap"]["items"] == [{"key": "init-roles.sh", "path": "10-init-roles.sh"}]


def test_replica_bootstraps_from_the_primary():
    (replica,) = by_kind(postgres.manifests(statefulset(load("phase3").stack)), "StatefulSet",
                         "postgres-replica")
    boot = replica["spec"]["template"]["spec"]["initContainers"][0]
    assert boot["command"] == ["sh", "/etc/postgresql/replica-bootstrap.sh"]
    assert boot["securityContext"]["readOnlyRootFilesystem"] is True
    assert {e["name"] for e in boot["env"]} == {"PGDATA", "PGPASSWORD_FILE", "POD_NAME"}
    # the pod's name names its replication slot
    pod_name = next(e for e in boot["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "livenessProbe" not in boot
    envs = {e["name"] for e in containers(replica)["postgres"]["env"]}
    assert "POSTGRES_PASSWORD" not in envs  # a replica never runs initdb


def test_replica_readiness_is_streaming_and_caught_up_not_pg_isready():
    docs = postgres.manifests(statefulset(load("phase3").stack))
    (replica,) = by_kind(docs, "StatefulSet", "postgres-replica")
    (primary,) = by_kind(docs, "StatefulSet", "postgres")
    ready = containers(replica)["postgres"]["readinessProbe"]["exec"]["command"]
    assert ready == ["sh", "/etc/postgresql/replica-ready.sh"]
    assert containers(primary)["postgres"]["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    (cm,) = by_kind(docs, "ConfigMap", "postgres")
    script = cm["data"]["replica-ready.sh"]
    assert "status = 'streaming'" in script and f"<= {64 * 2**20}" in script
    assert "-S \"$SLOT\"" in cm["data"]["replica-bootstrap.sh"]
    assert "max_slot_wal_keep_size = 5120MB" in cm["data"]["postgresql.conf"]


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_manifests_validate_strict(name, version):
    for doc in postgres.manifests(load(name).stack):
        validate_strict(doc, version)


@pytest.mark.parametrize("name", STACKS)
def test_secure_containers(name):
    for doc in by_kind(postgres.manifests(load(name).stack), "StatefulSet"):
        for c in containers(doc).values():
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert c["resources"]["limits"] and c["resources"]["requests"]
