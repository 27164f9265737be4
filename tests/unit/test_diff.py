"""`phasestack diff`: manifest diff between stacks, the transition runbook, the CLI command.

Regenerate the golden markdown with:
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_diff.py
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from phasestack.cli import main
from phasestack.stackfile import load
from phasestack.synth.secrets import CREDENTIALS, env_var
from phasestack.transitions import diff as diffing
from phasestack.transitions import runbook

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def pair(a: str, b: str) -> diffing.Diff:
    return diffing.diff(load(a).stack, load(b).stack, a, b)


def labels(refs) -> set[str]:
    return {r.label for r in refs}


def fields(d: diffing.Diff, label: str) -> dict[str, diffing.FieldChange]:
    change = next(c for c in d.changed if c.ref.label == label)
    return {f.path: f for f in change.fields}


def test_phase1_to_phase2_adds_the_cloudnativepg_cluster_cluster_bootstrap_and_policies():
    d = pair("phase1", "phase2")
    assert labels(d.added) == {
        # PostgreSQL on CloudNativePG (its standby, its Services, are the operator's), the
        # StatefulSet primary it copies staying as it was
        "Cluster/postgres", "ConfigMap/postgres-monitoring", "Secret/postgres-app",
        "Service/scrape-postgres-replica", "NetworkPolicy/egress-postgres",
        "ConfigMap/redis-cluster-bootstrap", "Job/redis-cluster-bootstrap",
        "PodDisruptionBudget/redis", "NetworkPolicy/egress-redis",
        "NetworkPolicy/egress-redis-cluster-bootstrap",
        # monitoring.node_metrics from phase2: the kubelets' grant
        "ClusterRole/prometheus-kubelet-<namespace>",
        "ClusterRoleBinding/prometheus-kubelet-<namespace>"}
    assert d.removed == []
    assert "StatefulSet/postgres" not in labels(c.ref for c in d.changed)
    assert {"StatefulSet/redis", "ConfigMap/pgbouncer", "Deployment/api",
            "HorizontalPodAutoscaler/api", "ConfigMap/redis"} <= labels(c.ref for c in d.changed)
    redis = fields(d, "StatefulSet/redis")
    assert (redis["spec.replicas"].old, redis["spec.replicas"].new) == (1, 6)
    api = fields(d, "Deployment/api")
    flag = api["spec.template.spec.containers[api].env[REDIS_CLUSTER_ENABLED].value"]
    assert (flag.old, flag.new) == ("false", "true")
    assert api["spec.template.spec.containers[api].env[REDIS_URL]"].new is diffing.ABSENT
    ini = fields(d, 'ConfigMap/pgbouncer')['data["pgbouncer.ini"]']
    assert {"-max_client_conn = 200", "+max_client_conn = 400", "-default_pool_size = 25",
            "+default_pool_size = 50"} <= set(ini.lines)
    assert ini.summary.startswith('data["pgbouncer.ini"]: +')
    # grouped by the app.kubernetes.io/component label
    assert {r.component for r in d.added if r.kind == "Cluster"} == {"postgres"}
    assert {"redis", "postgres", "network", "monitoring", "pgbouncer"} <= set(d.components())


def test_phase2_to_phase3():
    d = pair("phase2", "phase3")
    assert labels(d.added) == {"HorizontalPodAutoscaler/nginx"}
    assert d.removed == []
    hpa = fields(d, "HorizontalPodAutoscaler/api")
    assert (hpa["spec.minReplicas"].old, hpa["spec.minReplicas"].new) == (3, 10)
    assert (hpa["spec.maxReplicas"].old, hpa["spec.maxReplicas"].new) == (20, 40)
    assert fields(d, "StatefulSet/redis")["spec.replicas"].new == 12
    assert fields(d, "Cluster/postgres")["spec.instances"].new == 4
    nodes = fields(d, "Job/redis-cluster-bootstrap")[
        "spec.template.spec.containers[bootstrap].env[REDIS_NODES].value"]
    assert nodes.unit == "items"
    assert nodes.lines == [f"+redis-{i}.redis-headless.<namespace>.svc.cluster.local:6379"
                           for i in range(6, 12)]


def test_review_path_zeropay_phase2_to_phase3():
    d = pair("zeropay-phase2", "zeropay-phase3")
    assert labels(d.added) == {"HorizontalPodAutoscaler/nginx"}
    assert d.removed == []
    hpa = fields(d, "HorizontalPodAutoscaler/api")
    assert (hpa["spec.maxReplicas"].old, hpa["spec.maxReplicas"].new) == (10, 20)


def test_backwards_removes_what_forwards_adds():
    forward, back = pair("mvp", "phase1"), pair("phase1", "mvp")
    assert labels(back.removed) == labels(forward.added)
    assert back.added == [] and "Deployment/pgbouncer" in labels(back.removed)


def test_namespaces_are_ignored():
    a = load("phase2").stack
    b = a.model_copy(update={"namespace": "elsewhere"})
    d = diffing.diff(a, b, "x", "y")
    assert (d.added, d.removed, d.changed) == ([], [], [])
    assert d.unchanged == len(diffing.normalise(a))
    dumped = json.dumps(list(diffing.normalise(b).values()))
    assert "<namespace>" in dumped and "elsewhere" not in dumped


@pytest.mark.parametrize("namespace", ["app", "redis"])
def test_a_namespace_that_is_also_a_label_or_component_word(tmp_path, namespace):
    """Namespace `app` must not rewrite app.kubernetes.io/* labels, nor `redis` the pods."""
    source = (ROOT / "stacks" / "Pulumi.phase2.yaml").read_text()
    assert "phasestack:namespace: ps-phase2\n" in source
    copy = tmp_path / f"Pulumi.{namespace}.yaml"
    copy.write_text(source.replace("phasestack:namespace: ps-phase2\n",
                                   f"phasestack:namespace: {namespace}\n"))
    other = load(str(copy)).stack
    assert other.namespace == namespace
    d = diffing.diff(load("phase2").stack, other, "phase2", namespace)
    assert (d.added, d.removed, d.changed) == ([], [], [])
    assert d.unchanged == len(diffing.normalise(other)) > 70
    docs = diffing.normalise(other)
    api = docs[("Deployment", "api")]
    assert api["metadata"]["labels"]["app.kubernetes.io/name"] == "api"
    assert api["metadata"]["namespace"] == diffing.NAMESPACE
    container = api["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATABASE_URL"] == ("postgresql://app:$(DB_PASSWORD)@pgbouncer.<namespace>.svc."
                                   "cluster.local:6432/app")
    assert env["REDIS_CLUSTER_NODES"].startswith(
        "redis-0.redis-headless.<namespace>.svc.cluster.local:6379,")
    assert ("Namespace", diffing.NAMESPACE) in docs


def test_compare_paths():
    old = {"data": {"a.conf": "x\ny\n"}, "spec": {"items": [{"name": "n", "v": 1}], "k": 1}}
    new = {"data": {"a.conf": "x\nz\n"}, "spec": {"items": [{"name": "n", "v": 2}]}}
    got = {f.path: f for f in diffing.compare(old, new)}
    assert got['data["a.conf"]'].lines == ["-y", "+z"]
    assert (got["spec.items[n].v"].old, got["spec.items[n].v"].new) == (1, 2)
    assert got["spec.k"].new is diffing.ABSENT
    assert got["spec.k"].summary == "spec.k: 1 -> (absent)"


def test_secret_values_are_masked_and_only_keys_reported():
    docs = diffing.normalise(load("phase1").stack)
    secret = docs[("Secret", "postgres-credentials")]
    assert set(secret["stringData"].values()) == {diffing.MASKED}
    assert set(secret["stringData"]) == {"postgres-password", "app-password",
                                         "replication-password", "monitor-password"}


@pytest.mark.parametrize("fmt", runbook.FORMATS)
def test_no_secret_value_in_any_output(monkeypatch, fmt):
    sentinels = {c: f"SENTINEL-{i}-do-not-print" for i, c in enumerate(CREDENTIALS)}
    for credential, value in sentinels.items():
        monkeypatch.setenv(env_var(credential), value)
    for a, b in [("mvp", "phase1"), ("phase1", "phase2"), ("phase3", "mvp")]:
        r = run("diff", a, b, "--format", fmt)
        assert r.exit_code == 0
        for value in [*sentinels.values(), diffing.PLACEHOLDER_VALUES["appPassword"]]:
            assert value not in r.output
    assert "SENTINEL" not in r.output


def test_runbook_phase2_to_phase3_spells_out_the_cluster_growth():
    rb = runbook.runbook(load("phase2").stack, load("phase3").stack, "phase2", "phase3")
    step = next(s for s in rb.steps if s.title.startswith("Redis Cluster"))
    cmds = "\n".join(step.commands)
    assert step.moves_data
    for m in ("redis-6", "redis-7", "redis-8"):
        assert f"--cluster add-node $(ip {m}):6379 $(ip redis-0):6379" in cmds
    for r in ("redis-9", "redis-10", "redis-11"):
        assert (f"--cluster add-node $(ip {r}):6379 $(ip redis-0):6379 --cluster-slave "
                '--cluster-master-id "$ID"') in cmds
    assert "--cluster rebalance $(ip redis-0):6379 --cluster-use-empty-masters" in cmds
    assert "--cluster check" in cmds and "All 16384 slots covered" in cmds
    assert cmds.index("add-node") < cmds.index("rebalance") < cmds.rindex("--cluster check")
    assert "8,192 of 16,384 slots" in " ".join(step.what)
    titles = [s.title for s in rb.steps]
    assert "PostgreSQL (CloudNativePG): instances 2 -> 4" in titles
    assert titles[:2] == ["Keep the live credentials", "Prepare: plan, render, back up"]
    assert titles[-1] == "Verify and converge"
    assert [c for c, _, _ in rb.formulas()] == list(runbook.CONNECTION_CHECKS)
    assert (rb.plan_a.verdict, rb.plan_b.verdict) == ("PASS", "PASS")


def test_runbook_pgbouncer_repoints_database_urls():
    rb = runbook.runbook(load("mvp").stack, load("phase1").stack, "mvp", "phase1")
    step = next(s for s in rb.steps if s.title.startswith("PgBouncer in front"))
    what = "\n".join(step.what)
    assert ("DATABASE_URL: postgresql://app:$(DB_PASSWORD)@postgres.$NS.svc.cluster.local:5432/"
            "app -> postgresql://app:$(DB_PASSWORD)@pgbouncer.$NS.svc.cluster.local:6432/app"
            ) in what
    assert "DATABASE_READ_URL:" in what and "pgbouncer.$NS.svc.cluster.local:6432/app_ro" in what
    assert "DB_POOL_SIZE (per pod): 50 -> 20" in what
    assert any("prepared statements" in r for r in step.risks)
    # the new userlist Secret is applied on its own in Prepare; live Secrets are never re-applied
    prepare = next(s for s in rb.steps if s.title.startswith("Prepare"))
    assert [c for c in prepare.commands if "app.kubernetes.io/name=" in c] == [
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=grafana-credentials',
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/name=pgbouncer-userlist']
    assert prepare.commands.index(prepare.commands[-3]) > prepare.commands.index(
        "phasestack render <stack> --out out/next")
    assert prepare.commands[-3].endswith("name=grafana-credentials")
    every = [c for s in rb.steps for c in s.commands]
    assert not any("component=credentials" in c or "secrets.yaml" in c for c in every)


def _export(var: str, secret: str, key: str) -> str:
    return (f'export {var}="$(kubectl get secret -n "$NS" {secret} -o jsonpath=\'{{.data.{key}}}\''
            ' | base64 -d)"')


def test_runbook_keeps_the_live_credentials_before_rendering():
    rb = runbook.runbook(load("mvp").stack, load("phase1").stack, "mvp", "phase1")
    keep = rb.steps[0]
    assert keep.title == "Keep the live credentials"
    # mvp has no Grafana: its password is new, every other one is the live one
    assert keep.commands == [
        _export("PHASESTACK_POSTGRES_PASSWORD", "postgres-credentials", "postgres-password"),
        _export("PHASESTACK_APP_PASSWORD", "postgres-credentials", "app-password"),
        _export("PHASESTACK_REPLICATION_PASSWORD", "postgres-credentials",
                "replication-password"),
        _export("PHASESTACK_MONITOR_PASSWORD", "postgres-credentials", "monitor-password"),
        _export("PHASESTACK_REDIS_PASSWORD", "redis-credentials", "redis-password"),
        _export("PHASESTACK_REDIS_ADMIN_PASSWORD", "redis-credentials", "admin-password"),
        ': "${PHASESTACK_POSTGRES_PASSWORD:?is empty}" "${PHASESTACK_APP_PASSWORD:?is empty}" '
        '"${PHASESTACK_REPLICATION_PASSWORD:?is empty}" "${PHASESTACK_MONITOR_PASSWORD:?is empty}" '
        '"${PHASESTACK_REDIS_PASSWORD:?is empty}" "${PHASESTACK_REDIS_ADMIN_PASSWORD:?is empty}"']
    what = " ".join(keep.what)
    assert "same --out directory" in what and "Pulumi nothing is needed" in what
    # phase2 has every Secret: every credential is exported, with the variable render reads
    rb = runbook.runbook(load("phase2").stack, load("phase3").stack, "phase2", "phase3")
    exports = [c for c in rb.steps[0].commands if c.startswith("export ")]
    assert [c.split("=")[0].split()[1] for c in exports] == [env_var(c) for c in CREDENTIALS]
    assert all(f"-o jsonpath='{{.data.{key}}}'" in cmd and f" {secret} " in cmd
               for cmd, (secret, key) in zip(exports, CREDENTIALS.values(), strict=True))
    # nothing about Secrets changes phase2 -> phase3: no Secret is applied at all
    assert not any("credentials" in c or "userlist" in c for s in rb.steps[1:]
                   for c in s.commands)


def test_runbook_standalone_to_cluster_and_replicas_streaming():
    rb = runbook.runbook(load("phase1").stack, load("phase2").stack, "phase1", "phase2")
    titles = [s.title for s in rb.steps]
    redis = next(s for s in rb.steps if s.title.startswith("Redis: standalone"))
    text = "\n".join(redis.what + redis.commands)
    assert "no live migration" in text and "--rdb" in text and "--cluster import" in text
    assert "REDIS_CLUSTER_ENABLED=true" in text and "session-loss window" in text
    copy = "PostgreSQL: a CloudNativePG Cluster, copied from the StatefulSet primary"
    pg = rb.steps[titles.index(copy)]
    assert "cluster/postgres --for=condition=Ready" in "\n".join(pg.commands) and pg.moves_data
    assert titles.index("Stop writes (downtime starts)") < titles.index(copy) < \
        titles.index(redis.title)


def test_runbook_immutable_fields_are_deleted_first():
    a, b = load("phase1").stack, load("phase2").stack
    d = diffing.diff(a, b, "phase1", "phase2")
    sts = diffing.Ref("StatefulSet", "redis", "redis")
    policy = diffing.FieldChange("spec.podManagementPolicy", "OrderedReady", "Parallel")
    d = dataclasses.replace(d, changed=[diffing.Change(sts, [policy]),
                                        *(c for c in d.changed if c.ref != sts)])
    step = next(s for s in runbook.runbook(a, b, "phase1", "phase2", d).steps
                if s.title == "Objects whose immutable fields change")
    assert "StatefulSet/redis: spec.podManagementPolicy" in step.what
    assert step.commands == ['kubectl delete -n "$NS" statefulset/redis --cascade=orphan']


def test_markdown_golden(golden):
    r = run("diff", "phase2", "phase3", "--format", "markdown")
    assert r.exit_code == 0
    golden("diff-phase2-phase3.md", r.output)


def test_cli_formats_and_exit_codes():
    text = run("diff", "phase1", "phase2")
    assert text.exit_code == 0
    assert text.output.startswith("diff phase1 -> phase2: 12 added, 0 removed")
    assert "runbook phase1 -> phase2" in text.output
    data = json.loads(run("diff", "phase2", "phase3", "--format", "json").output)
    assert {r["name"] for r in data["diff"]["added"]} == {"nginx"}
    assert data["runbook"]["capacity"]["phase3"]["verdict"] == "PASS"
    same = run("diff", "phase2", "phase2")
    assert same.exit_code == 0 and "0 added, 0 removed, 0 changed" in same.output
    # a plan that FAILs still diffs with exit 0; bad input exits 2 without output on stdout
    assert run("diff", "nope", "phase2").exit_code == 2
    broken = run("diff", "phase2", "tests/unit/broken/bad_phase.yaml")
    assert broken.exit_code == 2 and "error:" in broken.output


def test_diff_timing():
    start = time.perf_counter()
    r = run("diff", "phase2", "phase3")
    elapsed = time.perf_counter() - start
    assert r.exit_code == 0
    print(f"\nphasestack diff phase2 phase3: {elapsed * 1000:.0f} ms in-process")


def test_runbook_hands_the_replica_count_to_a_new_hpa():
    # mvp -> phase1: the API's fixed 2 pods become HPA 2-6 and the manifest drops spec.replicas
    rb = runbook.runbook(load("mvp").stack, load("phase1").stack, "mvp", "phase1")
    step = next(s for s in rb.steps if s.title.startswith("API: "))
    assert step.commands[0].startswith('kubectl apply edit-last-applied -n "$NS" deployment/api')
    assert step.risks[0] == ("Skipping the edit-last-applied step drops deployment/api to 1 pod "
                             "until the HPA scales it back.")
    # phase1 -> phase2 changes HPA bounds only: nothing to hand over
    rb = runbook.runbook(load("phase1").stack, load("phase2").stack, "phase1", "phase2")
    step = next(s for s in rb.steps if s.title.startswith("API: "))
    assert not any("edit-last-applied" in c for c in step.commands)
