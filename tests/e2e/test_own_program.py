"""examples/own_program with the real engine on the e2e API server: two components on their own
(a Redis Cluster, a PgBouncer in front of an existing PostgreSQL whose password Secret exists
before `pulumi up`), then no diff, then a destroy that leaves only what was there before."""

from __future__ import annotations

import runpy
import secrets
from pathlib import Path

import pytest
import yaml
from deploy import ROOT, command
from pulumi import automation as auto

EXAMPLE = ROOT / "examples" / "own_program"
NAMESPACE = "own-program-e2e"
KUBERNETES_MADE = {"configmap/kube-root-ca.crt", "serviceaccount/default"}


def _program() -> None:
    runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")


def test_own_program_up_no_diff_destroy(tools, cluster, pulumi_env, tmp_path):
    cluster.provide_volumes()
    password = secrets.token_urlsafe(24)
    cluster.apply_docs([{"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": NAMESPACE}}])
    # `kubectl create`, as the example says: `kubectl apply` would keep the password in plain
    # text in the last-applied-configuration annotation, which the program's read then stores
    cluster.kubectl("create", "secret", "generic", "orders-db", "-n", NAMESPACE,
                    f"--from-literal=password={password}")
    work = tmp_path / "work"
    work.mkdir()
    (work / "Pulumi.yaml").write_text(yaml.safe_dump(
        yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())))
    st = auto.create_or_select_stack(
        stack_name="e2e-own", project_name="own_program", program=_program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(work), env_vars=pulumi_env,
                                        pulumi_home=pulumi_env["PULUMI_HOME"],
                                        pulumi_command=command(tools)))
    st.set_all_config({"own_program:namespace": auto.ConfigValue(NAMESPACE),
                       "own_program:kubeContext": auto.ConfigValue(cluster.context),
                       "own_program:postgresHost": auto.ConfigValue("orders-db.example.internal"),
                       # no pulumi-resource-random here (docs/e2e.md): the instance's keys
                       **{f"phasestack:{c}": auto.ConfigValue(
                           secrets.token_urlsafe(24), secret=True)
                          for c in ("sessions-redisPassword", "sessions-redisAdminPassword",
                                    "obs-grafanaPassword")}})
    log = (tmp_path / "pulumi-output.log").open("a")

    up = st.up(on_output=lambda line: log.write(line + "\n"), color="never")
    assert up.summary.result == "succeeded"
    out = up.outputs
    host = f"orders-pool-pgbouncer.{NAMESPACE}.svc.cluster.local"
    assert out["database_host"].value == host
    assert out["database_url"].secret and out["redis_url"].secret
    assert out["database_url"].value == f"postgresql://orders:{password}@{host}:6432/orders"
    # the client's seeds: three of the 6 pods (REDIS_CLUSTER_NODES)
    assert out["redis_nodes"].value == [
        f"sessions-redis-{i}.sessions-redis-headless.{NAMESPACE}.svc.cluster.local:6379"
        for i in range(3)]
    # the pods write their userlist from the existing Secret (kwok runs no container: the
    # script is tested in tests/unit/test_synth_pgbouncer.py); no Secret holds a copy
    (pool,) = [d for d in cluster.get("deployments", NAMESPACE)
               if d["metadata"]["name"] == "orders-pool-pgbouncer"]
    volumes = pool["spec"]["template"]["spec"]["volumes"]
    assert {"name": "server-password", "secret": {
        "secretName": "orders-db", "defaultMode": 0o440,
        "items": [{"key": "password", "path": "password"}]}} in volumes
    assert "secret/orders-pool-pgbouncer-userlist" not in cluster.namespace_objects(NAMESPACE)
    # the state on disk holds the password only encrypted (the secret outputs)
    backend = Path(pulumi_env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    (state,) = backend.glob(".pulumi/stacks/own_program/e2e-own.json")
    if password in state.read_text():
        pytest.fail(f"{state}: the server password in plain text")
    (redis,) = [s for s in cluster.get("statefulsets", NAMESPACE)
                if s["metadata"]["name"] == "sessions-redis"]
    assert redis["status"].get("readyReplicas", 0) == 6
    # the app and its nginx, on their own (issue 13): ready, wired by the instances' names
    ready = {d["metadata"]["name"]: d["status"].get("readyReplicas", 0)
             for d in cluster.get("deployments", NAMESPACE)}
    assert (ready.get("shop-api"), ready.get("shop-nginx")) == (2, 1), ready
    assert out["endpoint"].value == f"http://shop-nginx.{NAMESPACE}.svc.cluster.local:80"
    # and Prometheus and Grafana watching them by their names
    assert (ready.get("obs-prometheus"), ready.get("obs-grafana"),
            ready.get("obs-kube-state-metrics")) == (1, 1, None), ready
    assert out["prometheus_url"].value == \
        f"http://obs-prometheus.{NAMESPACE}.svc.cluster.local:9090"
    scrape = {s["metadata"]["name"]: s["spec"]["selector"]
              for s in cluster.get("services", NAMESPACE)
              if s["metadata"]["name"].startswith("obs-scrape-")}
    assert scrape == {"obs-scrape-api": {"app.kubernetes.io/name": "shop-api"},
                      "obs-scrape-nginx": {"app.kubernetes.io/name": "shop-nginx"},
                      "obs-scrape-redis": {"app.kubernetes.io/name": "sessions-redis"},
                      "obs-scrape-pgbouncer": {"app.kubernetes.io/name": "orders-pool-pgbouncer"}}

    preview = st.preview(color="never")
    # the existing Secret is read on every run; nothing is created, updated or deleted
    assert set(preview.change_summary) == {"same", "read"}, preview.change_summary

    destroyed = st.destroy(color="never")
    assert destroyed.summary.result == "succeeded"
    left = set(cluster.namespace_objects(NAMESPACE))
    # what the program made is gone (the Redis claims stay: a StatefulSet's volumes outlive it;
    # Prometheus' claim is retained on delete, like a stack's)
    assert left - KUBERNETES_MADE - {"secret/orders-db"} == {
        *(f"persistentvolumeclaim/data-sessions-redis-{i}" for i in range(6)),
        "persistentvolumeclaim/obs-prometheus-data"}
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
