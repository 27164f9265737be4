"""PgBouncer synthesizer: review 002 numbers per phase, routing, secrets by reference, schemas."""

from __future__ import annotations

from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from phasestack.model import PgBouncer, Stack
from phasestack.stackfile import list_stack_files, load, project_root, stack_name
from phasestack.synth import pgbouncer, secrets, synthesize
from phasestack.synth.common import Flow
from tests.unit.conftest import statefulset  # noqa: I001

STACKS = [stack_name(p) for p in list_stack_files(project_root())]


def ini(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith((";", "[")):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def test_model_defaults_are_review_002():
    # review 002 (002_f99052a1f9a0162e.txt), "Phase 2: PgBouncer" compose block
    p = PgBouncer()
    assert (p.enabled, p.pool_mode, p.max_client_conn, p.default_pool_size, p.min_pool_size) == (
        False, "transaction", 200, 25, 5)


@pytest.mark.parametrize("phase, pods, client, pool, minimum", [
    # review 002, "Phase 2: PgBouncer" compose block: transaction, 200 / 25 / 5
    ("phase1", 2, 200, 25, 5),
    # review 002, Phase 2 roadmap "Add PgBouncer (100 connections)": 2 pods x pool 50
    ("phase2", 2, 400, 50, 5),
    # phase3: scaled out to 3 pods with a per-pod budget of 25
    ("phase3", 3, 400, 25, 5),
])
def test_numbers_per_phase(phase, pods, client, pool, minimum):
    stack = load(phase).stack
    conf = ini(pgbouncer.pgbouncer_ini(stack))
    assert conf["pool_mode"] == "transaction"
    assert conf["max_client_conn"] == str(client)
    assert conf["default_pool_size"] == str(pool)
    assert conf["min_pool_size"] == str(minimum)
    assert conf["reserve_pool_size"] == "5"
    docs = pgbouncer.manifests(stack)
    (dep,) = by_kind(docs, "Deployment")
    assert dep["spec"]["replicas"] == pods
    (cm,) = by_kind(docs, "ConfigMap")
    assert cm["data"]["pgbouncer.ini"] == pgbouncer.pgbouncer_ini(stack)
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    if phase == "phase2":
        assert pods * pool == 100  # the review's "100 connections"


def test_settings_and_routing():
    stack = load("phase2").stack
    text = pgbouncer.pgbouncer_ini(stack)
    conf = ini(text)
    # the CloudNativePG Cluster's Services (phase2's engine): -rw the primary, -ro the standbys
    assert conf["app"] == "host=postgres-rw.ps-phase2.svc.cluster.local port=5432 dbname=app"
    assert conf["app_ro"] == "host=postgres-ro.ps-phase2.svc.cluster.local port=5432 dbname=app"
    assert (conf["listen_addr"], conf["listen_port"]) == ("0.0.0.0", "6432")
    assert conf["auth_type"] == "scram-sha-256"
    assert conf["auth_file"] == "/etc/pgbouncer/userlist.txt"
    assert conf["ignore_startup_parameters"] == "extra_float_digits"
    assert conf["stats_users"] == "app" and "admin_users" not in conf
    assert conf["unix_socket_dir"] == "" and conf["logfile"] == "" and conf["pidfile"] == ""
    assert conf["server_reset_query"] == "DISCARD ALL"
    assert conf["reserve_pool_timeout"] == "3"
    test = ini(pgbouncer.pgbouncer_ini(stack, rw_host="127.0.0.1", rw_port=5000,
                                       ro_host="127.0.0.1", ro_port=5001, listen_port=7000,
                                       logfile="/tmp/x.log"))
    assert test["app"] == "host=127.0.0.1 port=5000 dbname=app"
    assert test["app_ro"] == "host=127.0.0.1 port=5001 dbname=app"
    assert (test["listen_port"], test["logfile"]) == ("7000", "/tmp/x.log")


def test_read_only_database_uses_the_primary_without_replicas():
    conf = ini(pgbouncer.pgbouncer_ini(load("phase1").stack))
    assert conf["app_ro"] == "host=postgres.ps-phase1.svc.cluster.local port=5432 dbname=app"


def test_flows():
    assert pgbouncer.flows(load("mvp").stack) == []
    assert pgbouncer.flows(load("phase1").stack) == [Flow("pgbouncer", "postgres", 5432)]
    assert pgbouncer.flows(statefulset(load("phase3").stack)) == [
        Flow("pgbouncer", "postgres", 5432), Flow("pgbouncer", "postgres-replica", 5432)]
    # CloudNativePG: primary and standbys are all pods named postgres
    assert pgbouncer.flows(load("phase3").stack) == [Flow("pgbouncer", "postgres", 5432)]


def test_pod_spec():
    (dep,) = by_kind(pgbouncer.manifests(load("phase1").stack), "Deployment")
    spec = dep["spec"]["template"]["spec"]
    # CloudNativePG's maintained image, its own user and binary (issue 15)
    assert spec["securityContext"]["runAsUser"] == 998
    c = {x["name"]: x for x in spec["containers"]}
    assert c["pgbouncer"]["image"] == "ghcr.io/cloudnative-pg/pgbouncer:1.25.2"
    assert c["pgbouncer"]["command"] == ["/usr/bin/pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
    assert c["pgbouncer"]["livenessProbe"]["tcpSocket"]["port"] == "pgbouncer"
    assert c["pgbouncer"]["ports"][0]["containerPort"] == 6432
    exporter = c["pgbouncer-exporter"]
    assert exporter["ports"][0]["containerPort"] == 9127
    assert exporter["image"].startswith("prometheuscommunity/pgbouncer-exporter")
    assert exporter["env"] == [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "postgres-credentials", "key": "app-password"}}}]
    (vol,) = [v for v in spec["volumes"] if v["name"] == "config"]
    sources = vol["projected"]["sources"]
    assert sources[1] == {"secret": {"name": "pgbouncer-userlist", "items": [
        {"key": "userlist.txt", "path": "userlist.txt"}]}}
    (svc,) = by_kind(pgbouncer.manifests(load("phase1").stack), "Service")
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"pgbouncer": 6432,
                                                                    "metrics": 9127}


def test_network_policies_let_pgbouncer_reach_primary_and_replicas():
    stack = statefulset(load("phase2").stack)
    docs = synthesize(stack, secrets.from_environment({}))
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    for dst in ("postgres", "postgres-replica"):
        rules = policies[f"ingress-{dst}"]["spec"]["ingress"]
        frm = [r for r in rules if r.get("from") == [{"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "pgbouncer"}}}]]
        assert frm and frm[0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    egress = policies["egress-postgres-replica"]["spec"]["egress"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}}} in [
        t for r in egress for t in r.get("to", [])]


@pytest.mark.parametrize("name", STACKS)
def test_no_secret_material_in_manifests(name):
    docs = pgbouncer.manifests(load(name).stack)
    assert not by_kind(docs, "Secret")
    for doc in by_kind(docs, "ConfigMap"):
        assert list(doc["data"]) == ["pgbouncer.ini"]
        assert "password=" not in doc["data"]["pgbouncer.ini"].lower()
    for doc in by_kind(docs, "Deployment"):
        for c in doc["spec"]["template"]["spec"]["containers"]:
            for arg in c.get("args", []):
                if "connectionString=" in arg:
                    dsn = urlsplit(arg.split("=", 1)[1])
                    assert dsn.username == "app" and dsn.password is None
            for env in c.get("env", []):
                assert "value" not in env and "secretKeyRef" in env["valueFrom"]


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_manifests_validate_strict(name, version):
    for doc in pgbouncer.manifests(load(name).stack):
        kubernetes_validate.validate(doc, version, strict=True)


MANAGED = {"external": {"host": "db.example.internal", "read_host": "ro.example.internal",
                        "port": 6543, "password_secret": "shop-db", "sslmode": "require"}}


def test_in_front_of_a_managed_postgresql():
    from phasestack.model import Stack

    stack = Stack.for_phase("phase1", namespace="t", postgres=MANAGED)
    conf = pgbouncer.pgbouncer_ini(stack)
    assert "app = host=db.example.internal port=6543 dbname=app" in conf
    assert "app_ro = host=ro.example.internal port=6543 dbname=app" in conf
    assert ini(conf)["server_tls_sslmode"] == "require"
    assert ini(conf)["auth_file"] == "/run/pgbouncer/userlist.txt"
    assert ini(pgbouncer.pgbouncer_ini(load("phase1").stack))["server_tls_sslmode"] == "disable"
    (dep,) = by_kind(pgbouncer.manifests(stack), "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"] == ["/bin/sh", "-c", pgbouncer.USERLIST_SCRIPT]
    assert "env" in init and all("valueFrom" not in e for e in init["env"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["auth"] == {"name": "auth", "emptyDir": {"medium": "Memory"}}
    assert volumes["server-password"]["secret"]["secretName"] == "shop-db"
    assert volumes["server-password"]["secret"]["items"] == [{"key": "password",
                                                              "path": "password"}]
    # no userlist Secret: the config volume is the ConfigMap alone
    assert [list(s) for s in volumes["config"]["projected"]["sources"]] == [["configMap"]]
    exporter = next(c for c in pod["containers"] if c["name"] == "pgbouncer-exporter")
    assert exporter["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "shop-db",
                                                               "key": "password"}
    assert [d["metadata"]["name"] for d in secrets.manifests(stack, {
        c: "x" * 20 for c in secrets.CREDENTIALS})] == ["grafana-credentials",
                                                        "redis-credentials"]
    assert pgbouncer.flows(stack) == []
    kubernetes_validate.validate(dep, "1.30.0", strict=True)


def test_the_userlist_script_writes_what_pgbouncer_reads(tmp_path):
    """The init container's script under a real /bin/sh: a '"' in the team's password is
    doubled, as PgBouncer's auth_file format wants; the file is private."""
    import subprocess

    (tmp_path / "server").mkdir()
    (tmp_path / "auth").mkdir()
    (tmp_path / "server" / "password").write_text('p"w d$x\\')
    script = pgbouncer.USERLIST_SCRIPT.replace(pgbouncer.SERVER_PASSWORD_DIR,
                                               str(tmp_path / "server")).replace(
        pgbouncer.AUTH_DIR, str(tmp_path / "auth"))
    subprocess.run(["/bin/sh", "-c", script], env={"PGB_USER": "app", "PATH": "/usr/bin:/bin"},
                   check=True)
    out = tmp_path / "auth" / "userlist.txt"
    assert out.read_text() == '"app" "p""w d$x\\"\n'
    assert out.stat().st_mode & 0o777 == 0o600


def test_another_image_brings_its_own_binary_and_user():
    stack = Stack.for_phase("phase1", pgbouncer={
        "image": "bitnami/pgbouncer:1.23.1", "binary": "/opt/bitnami/pgbouncer/bin/pgbouncer",
        "run_as_user": 1001})
    (dep,) = by_kind(pgbouncer.manifests(stack), "Deployment")
    spec = dep["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 1001
    assert spec["containers"][0]["command"][0] == "/opt/bitnami/pgbouncer/bin/pgbouncer"


def test_prepared_statements_are_tracked_through_transaction_pooling():
    ini = pgbouncer.pgbouncer_ini(load("phase2").stack)
    assert "pool_mode = transaction" in ini and "max_prepared_statements = 200" in ini
    off = Stack.for_phase("phase2", pgbouncer={"max_prepared_statements": 0})
    assert "max_prepared_statements = 0" in pgbouncer.pgbouncer_ini(off)
