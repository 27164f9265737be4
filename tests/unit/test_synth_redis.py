"""Redis synthesizer: topology per phase, redis.conf values, secrets, strict schema validation."""

from __future__ import annotations

import json
import subprocess

import kubernetes_validate
import pytest

from phasestack.model import Redis, Stack
from phasestack.stackfile import list_stack_files, load, project_root, stack_name
from phasestack.synth import redis
from phasestack.synth.common import Flow, config_hash
from phasestack.synth.redis_cluster import bootstrap_script, node_addresses

STACKS = [stack_name(p) for p in list_stack_files(project_root())]
PASSWORD_KEYS = ("requirepass", "masterauth")


def by_kind(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def sts(stack: Stack) -> dict:
    (doc,) = by_kind(redis.manifests(stack), "StatefulSet", "redis")
    return doc


def conf_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out[key] = value
    return out


def test_model_defaults_are_standalone_2gb_noeviction():
    r = Redis()
    assert (r.mode, r.masters, r.replicas_per_master, r.pods) == ("standalone", 1, 0, 1)
    conf = conf_lines(redis.redis_conf(Stack()))
    assert conf["maxmemory"] == "2048mb"
    assert conf["maxmemory-policy"] == "noeviction"
    assert conf["appendonly"] == "yes"
    assert (conf["port"], conf["dir"], conf["bind"]) == ("6379", "/data", "0.0.0.0")
    assert conf["protected-mode"] == "yes"
    assert "cluster-enabled" not in conf


@pytest.mark.parametrize("phase", ["mvp", "phase1"])
def test_mvp_and_phase1_are_one_standalone_pod(phase):
    stack = load(phase).stack
    docs = redis.manifests(stack)
    assert sts(stack)["spec"]["replicas"] == 1
    # as in a cluster: the immutable field must not change on the way to phase2
    assert sts(stack)["spec"]["podManagementPolicy"] == "Parallel"
    assert conf_lines(redis.redis_conf(stack))["maxmemory"] == "2048mb"
    assert by_kind(docs, "Job") == [] and by_kind(docs, "PodDisruptionBudget") == []
    assert redis.flows(stack) == []
    headless = by_kind(docs, "Service", "redis-headless")[0]
    assert [p["port"] for p in headless["spec"]["ports"]] == [6379, 9121]
    args = sts(stack)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--cluster-announce-hostname" not in args


@pytest.mark.parametrize(("phase", "masters", "pods"), [("phase2", 3, 6), ("phase3", 6, 12)])
def test_cluster_phases(phase, masters, pods):
    stack = load(phase).stack
    docs = redis.manifests(stack)
    s = sts(stack)["spec"]
    assert (stack.redis.masters, s["replicas"]) == (masters, pods)
    assert s["podManagementPolicy"] == "Parallel"
    assert s["serviceName"] == "redis-headless"
    assert s["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    conf = conf_lines(redis.redis_conf(stack))
    assert conf["cluster-enabled"] == "yes"
    assert conf["cluster-node-timeout"] == "5000"
    assert conf["cluster-preferred-endpoint-type"] == "hostname"
    assert "cluster-announce-hostname" not in conf  # per pod, from the downward API
    c = s["template"]["spec"]["containers"][0]
    assert c["args"][-4:] == [
        "--cluster-announce-hostname",
        f"$(POD_NAME).redis-headless.{stack.namespace}.svc.cluster.local",
        # what the placement reads: the pod's Kubernetes node
        "--cluster-announce-human-nodename", "$(POD_NAME)/$(NODE_NAME)"]
    assert c["env"][-2:] == [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert [p["containerPort"] for p in c["ports"]] == [6379, 16379]
    headless = by_kind(docs, "Service", "redis-headless")[0]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert [p["port"] for p in headless["ports"]] == [6379, 16379, 9121]
    assert by_kind(docs, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1
    assert set(redis.flows(stack)) == {Flow("redis", "redis", 6379), Flow("redis", "redis", 16379),
                                       Flow("redis-cluster-bootstrap", "redis", 6379)}


def test_cluster_bootstrap_job():
    stack = load("phase2").stack
    docs = redis.manifests(stack)
    (job,) = by_kind(docs, "Job", "redis-cluster-bootstrap")
    (cm,) = by_kind(docs, "ConfigMap", "redis-cluster-bootstrap")
    assert cm["data"]["bootstrap.sh"] == bootstrap_script()
    spec = job["spec"]
    # no ttlSecondsAfterFinished: a Job deleting itself would be drift under Pulumi
    assert spec["backoffLimit"] == 6 and "ttlSecondsAfterFinished" not in spec
    pod = spec["template"]
    (c,) = pod["spec"]["containers"]
    # runs to completion: no probes, no ports; the secure defaults and resources still hold
    assert not {"livenessProbe", "readinessProbe", "ports"} & c.keys()
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["resources"]["limits"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "redis-cluster-bootstrap"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    nodes = env["REDIS_NODES"]["value"].split()
    assert nodes == node_addresses(stack)
    assert nodes[0] == f"redis-0.redis-headless.{stack.namespace}.svc.cluster.local:6379"
    assert len(nodes) == 6 and env["REDIS_REPLICAS"]["value"] == "1"
    # CLUSTER MEET and ADDSLOTS are admin commands: the bootstrap is the admin
    assert env["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-credentials", "key": "admin-password"}
    script = bootstrap_script()
    assert "--cluster create" in script and "--cluster-replicas" in script
    assert "cluster_slots_assigned" in script and "cluster_state" in script


def test_cluster_pods_run_the_heal_sidecar():
    stack = load("phase2").stack
    pod = sts(stack)["spec"]["template"]
    heal = pod["spec"]["containers"][2]
    assert heal["name"] == "heal" and heal["image"] == stack.redis.image
    assert heal["command"] == ["sh", "/scripts/bootstrap.sh", "watch", "127.0.0.1:6379"]
    # only the admin password: the members come from the node's own table, so growing the
    # cluster (phase2 -> phase3) leaves the pod template as is
    assert heal["env"] == [{"name": "REDISCLI_AUTH", "valueFrom": {"secretKeyRef": {
        "name": "redis-credentials", "key": "admin-password"}}}]
    assert heal["ports"] == [] and heal["resources"]["limits"]
    probe = heal["livenessProbe"]
    assert probe == heal["readinessProbe"] and probe["periodSeconds"] == 10
    assert probe["exec"]["command"] == [
        "sh", "-c", "test $(( $(date +%s) - $(cat /tmp/heal.beat) )) -lt 60"]
    mounts = {m["name"]: m["mountPath"] for m in heal["volumeMounts"]}
    assert mounts == {"scripts": "/scripts", "tmp": "/tmp"}
    assert {"name": "scripts", "configMap": {"name": "redis-cluster-bootstrap"}} in pod["spec"][
        "volumes"]
    # a new script rolls the pods, so no sidecar keeps running the old one
    hashed = config_hash(redis.redis_conf(stack), bootstrap_script())
    assert hashed.items() <= pod["metadata"]["annotations"].items()
    grown = sts(load("phase3").stack)["spec"]["template"]["spec"]["containers"][2]
    assert grown == heal
    script = bootstrap_script()
    assert 'HEAL_INTERVAL:-10' in script and 'HEAL_BEAT_FILE:-/tmp/heal.beat' in script


def test_standalone_pods_have_no_heal_sidecar():
    assert [c["name"] for c in sts(load("phase1").stack)["spec"]["template"]["spec"][
        "containers"]] == ["redis", "exporter"]


def test_eviction_policy_comes_from_the_model_with_a_warning():
    base = load("phase1").stack
    lru = base.model_copy(update={"redis": base.redis.model_copy(
        update={"maxmemory_policy": "allkeys-lru", "appendonly": False, "maxmemory_mb": 512})})
    text = redis.redis_conf(lru)
    conf = conf_lines(text)
    assert (conf["maxmemory-policy"], conf["appendonly"], conf["maxmemory"]) == (
        "allkeys-lru", "no", "512mb")
    assert "can drop live sessions" in text
    assert "002_f99052a1f9a0162e.txt" in redis.redis_conf(base)


def test_redis_conf_overrides_for_tests():
    stack = load("phase2").stack
    conf = conf_lines(redis.redis_conf(stack, port=7001, dir="/tmp/x", bind="127.0.0.1",
                                       announce_hostname="127.0.0.1", cluster_port=17555,
                                       node_timeout_ms=1000))
    assert (conf["port"], conf["dir"], conf["bind"]) == ("7001", "/tmp/x", "127.0.0.1")
    assert (conf["cluster-port"], conf["cluster-node-timeout"]) == ("17555", "1000")
    assert conf["cluster-announce-hostname"] == "127.0.0.1"


@pytest.mark.parametrize("name", STACKS)
def test_no_password_in_any_config_map(name):
    stack = load(name).stack
    for cm in by_kind(redis.manifests(stack), "ConfigMap"):
        for text in cm["data"].values():
            for line in text.splitlines():
                assert not line.lstrip().startswith(PASSWORD_KEYS), line
    c = sts(stack)["spec"]["template"]["spec"]["containers"]
    # the default user is the admin (replicas authenticate as it); the app is its own user
    assert c[0]["args"][1:14] == [
        "--requirepass", "$(REDIS_ADMIN_PASSWORD)", "--masterauth", "$(REDIS_ADMIN_PASSWORD)",
        "--user", "app", "on", ">$(REDIS_PASSWORD)", "~*", "&*", "+@all", "-@dangerous", "+info"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in c[0]["env"]
            if "secretKeyRef" in e.get("valueFrom", {})}
    assert refs == {"REDIS_PASSWORD": "redis-password", "REDIS_ADMIN_PASSWORD": "admin-password",
                    "REDISCLI_AUTH": "admin-password"}
    for container in c:
        assert all("value" not in e or "PASSWORD" not in e["name"] for e in container["env"])


@pytest.mark.parametrize("name", STACKS)
def test_secure_pods(name):
    stack = load(name).stack
    for doc in redis.manifests(stack):
        if doc["kind"] not in ("StatefulSet", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsUser"] == 999
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert c["resources"]["limits"]
            if doc["kind"] != "Job":  # a Job's container runs to completion: nothing to probe
                assert c["livenessProbe"] and c["readinessProbe"]
    exporter = sts(stack)["spec"]["template"]["spec"]["containers"][1]
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}]


def test_standalone_to_cluster_keeps_the_immutable_statefulset_fields():
    # phase1 -> phase2 scales the same StatefulSet; no delete/recreate of redis-0's volume
    immutable = ("podManagementPolicy", "serviceName", "selector", "volumeClaimTemplates")
    one, six = sts(load("phase1").stack)["spec"], sts(load("phase2").stack)["spec"]
    assert (one["replicas"], six["replicas"]) == (1, 6)
    assert {k: one[k] for k in immutable} == {k: six[k] for k in immutable}


def test_bootstrap_refuses_a_node_with_keys_and_says_what_to_do():
    # integration: tests/integration/test_redis_server.py runs it against a node holding keys
    script = bootstrap_script()
    for step in ("--rdb", "FLUSHALL", "run this Job again", "--cluster import"):
        assert step in script, step


def plan(tmp_path, table: str) -> str:
    """The placement's moves for a placement table (`bootstrap.sh plan`, busybox-compatible
    awk run by this machine's sh)."""
    script = tmp_path / "bootstrap.sh"
    script.write_text(bootstrap_script())
    return subprocess.run(["sh", str(script), "plan"], input=table, capture_output=True,
                          text=True, timeout=10, check=True).stdout


# "<id> <ip:port> <role> <master id> <host>": three masters a, b, c; their replicas x, y, z
STABLE = """a 10.0.0.1:6379 master - n1
b 10.0.0.2:6379 master - n2
c 10.0.0.3:6379 master - n3
x 10.0.0.4:6379 replica a n2
y 10.0.0.5:6379 replica b n3
z 10.0.0.6:6379 replica c n1
"""


@pytest.mark.parametrize(("table", "moves"), [
    (STABLE, ""),  # each replica apart from its master: nothing moves
    # x rescheduled onto its master's node n1; every master holds one: x takes b, whose
    # replica y (n3) takes a (n1)
    (STABLE.replace("replica a n2", "replica a n1"),
     "move 10.0.0.4:6379 b\nmove 10.0.0.5:6379 a\n"),
    # b lost its replica y: x could go there, but that would leave a with none; it stays
    (STABLE.replace("replica a n2", "replica a n1").replace("y 10.0.0.5:6379 replica b n3\n", ""),
     "clash 10.0.0.4:6379 n1\n"),
    # one Kubernetes node for everything: no placement separates them, said per replica
    ("".join(line.rsplit(" ", 1)[0] + " n1\n" for line in STABLE.splitlines()),
     "clash 10.0.0.4:6379 n1\nclash 10.0.0.5:6379 n1\nclash 10.0.0.6:6379 n1\n"),
    # a pod that announces no node (an older template) is never moved nor counted as a clash:
    # w clashes with b, and x (no node) would make room by moving; it does not, so w stays
    ("a 10.0.0.1:6379 master - n1\nb 10.0.0.2:6379 master - n2\n"
     "x 10.0.0.4:6379 replica a \nw 10.0.0.5:6379 replica b n2\n",
     "clash 10.0.0.5:6379 n2\n"),
    # up to two each: b's two replicas clash; both go to a and a's x (n3) to b, every pair
    # apart and no master without a replica
    ("a 10.0.0.1:6379 master - n1\nb 10.0.0.2:6379 master - n2\n"
     "x 10.0.0.4:6379 replica a n3\ny 10.0.0.5:6379 replica b n2\n"
     "z 10.0.0.6:6379 replica b n2\n",
     "move 10.0.0.4:6379 b\nmove 10.0.0.5:6379 a\nmove 10.0.0.6:6379 a\n"),
    # one master's two replicas beside it and no other master that can take both: one moves,
    # one stays (its master never left with none)
    ("a 10.0.0.1:6379 master - n1\nb 10.0.0.2:6379 master - n2\n"
     "x 10.0.0.4:6379 replica a n2\ny 10.0.0.5:6379 replica b n2\n"
     "z 10.0.0.6:6379 replica b n2\n",
     "move 10.0.0.5:6379 a\nclash 10.0.0.6:6379 n2\n"),
    # more replicas on a than the even share, none clashing: nothing moves for balance alone
    ("a 10.0.0.1:6379 master - n1\nb 10.0.0.2:6379 master - n2\n"
     "x 10.0.0.4:6379 replica a n3\ny 10.0.0.5:6379 replica a n2\n",
     ""),
])
def test_placement_plan(tmp_path, table, moves):
    assert plan(tmp_path, table) == moves


def test_config_change_rolls_the_pods():
    a = load("phase1").stack
    b = a.model_copy(update={"redis": a.redis.model_copy(update={"maxmemory_mb": 1024})})
    key = "phasestack.io/config-hash"
    assert (sts(a)["spec"]["template"]["metadata"]["annotations"][key]
            != sts(b)["spec"]["template"]["metadata"]["annotations"][key])


def test_deterministic():
    stack = load("phase3").stack
    assert json.dumps(redis.manifests(stack)) == json.dumps(redis.manifests(stack))


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_kubernetes_validate_strict(name, version):
    stack = load(name).stack
    for doc in redis.manifests(stack):
        assert doc["metadata"]["namespace"] == stack.namespace
        kubernetes_validate.validate(doc, version, strict=True)


def test_redis_cluster_is_below_redis():
    """Issue 13: synth.redis and synth.redis_cluster imported each other (behind a lazy
    import); the bootstrap module now imports nothing from synth.redis."""
    import ast
    import inspect

    from phasestack.synth import redis_cluster

    tree = ast.parse(inspect.getsource(redis_cluster))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 for a in n.names}
    assert not [m for m in imported if m and m.startswith("phasestack.synth.redis")], imported
