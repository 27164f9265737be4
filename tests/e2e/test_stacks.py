"""Every phase stack and the last stack of every review path: `pulumi up` on a real API server,
outputs as `phasestack render` predicts them, no perpetual diff, and a clean `pulumi destroy`."""

from __future__ import annotations

import os

import pytest
from deploy import ROOT, credentials, predicted_outputs, render, stack_file_config

from phasestack.paths import paths
from phasestack.stackfile import load

PHASES = ["mvp", "phase1", "phase2", "phase3"]
# a team's own app: its image, Secrets it names, egress, an Ingress with TLS (issue 14)
OWN_APP = ["shop", "starter"]
# PostgreSQL as a CloudNativePG Cluster with backups (issue 16), reconciled by the real operator;
# a StatefulSet primary with its backup sidecar, and Redis snapshot CronJobs (brivara-phase1)
HA = ["phase3-ha", "brivara-phase1"]
REVIEW_ENDS = [stacks[-1] for stacks in paths(ROOT).values()]


def stacks_to_deploy() -> list[str]:
    """The phases and each review path's last stack; PHASESTACK_E2E_STACKS (the PR job's
    changed stacks) narrows it to those of its names that deploy to Kubernetes."""
    chosen = os.environ.get("PHASESTACK_E2E_STACKS")
    if chosen is None:
        return PHASES + REVIEW_ENDS + OWN_APP + HA
    return [n for n in chosen.split() if (ROOT / "stacks" / f"Pulumi.{n}.yaml").exists()
            and load(ROOT / "stacks" / f"Pulumi.{n}.yaml").stack.target == "kubernetes"]
# objects Kubernetes itself puts in every namespace
KUBERNETES_MADE = {"configmap/kube-root-ca.crt", "serviceaccount/default"}


@pytest.mark.parametrize("name", stacks_to_deploy())
def test_up_matches_render_then_no_diff_then_destroy(name, deployer, cluster, tmp_path,
                                                     request):
    namespace = load(ROOT / "stacks" / f"Pulumi.{name}.yaml").stack.namespace
    on_cnpg = load(ROOT / "stacks" / f"Pulumi.{name}.yaml").stack.postgres.engine == \
        "cloudnativepg"
    if on_cnpg:  # the operator's webhooks must answer the Cluster's create
        request.getfixturevalue("cnpg").ensure()
    # a stack for dedicated nodes (api.node_selector) gets them, as the team's node pool would
    for key, value in load(ROOT / "stacks" / f"Pulumi.{name}.yaml").stack.api.node_selector.items():
        cluster.kubectl("label", "nodes", "--all", "--overwrite", f"{key}={value}")
    creds = credentials()
    st = deployer.stack(f"e2e-{name}", stack_file_config(name), creds)

    up = st.up(on_output=deployer.output, color="never")
    assert up.summary.result == "succeeded"
    outputs = {k: v.value for k, v in up.outputs.items()}
    stack = load(ROOT / "stacks" / f"Pulumi.{name}.yaml").stack
    predicted = predicted_outputs(render(name, creds, tmp_path / "render"), namespace,
                                  stack.postgres.external,
                                  stack.redis.external if stack.has("redis") else None)
    external = outputs.pop("external_endpoint", None)
    ingress = outputs.pop("ingress_address", None)
    assert outputs.pop("phase") == stack.phase
    assert outputs == predicted
    if not stack.nginx.enabled:
        # no nginx: no load-balancer Service to get an address; the entry is the API's
        assert external is None and ingress is None
    elif stack.nginx.ingress.enabled:
        # the entry is the Ingress: its first host, and the address the stand-in controller
        # gave it (pulumi up waited for it)
        assert external == f"https://{stack.nginx.ingress.hosts[0]}"
        assert ingress is not None and ingress.startswith("192.0.2.")
    else:
        # the e2e cluster's load-balancer stand-in assigned the nginx Service an address
        assert external is not None and external.startswith("http://192.0.2.")
        assert ingress is None

    # every workload the engine awaited is ready on the API server: `pulumi up` returns once
    # an HPA-managed Deployment (no spec.replicas in its manifest) has its first ready pod,
    # and the HPA then brings it to minReplicas within its sync period
    floors = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
              for h in cluster.get("hpa", namespace)}
    for obj in cluster.get("statefulsets", namespace):
        assert obj["status"].get("readyReplicas", 0) == obj["spec"]["replicas"]
    for obj in cluster.get("deployments", namespace):
        name_ = obj["metadata"]["name"]
        if name_ not in floors:
            assert obj["status"].get("readyReplicas", 0) == obj["spec"]["replicas"], name_
    for name_, floor in floors.items():
        cluster.wait_for(lambda n=name_, f=floor: cluster.ready_replicas(namespace, n) >= f,
                         f"deployment {name_} at its HPA floor of {floor}", timeout=120)

    # a second preview of the same config changes nothing (no perpetual diff)
    st.preview(expect_no_changes=True, on_output=deployer.output, color="never")

    if on_cnpg:
        cnpg_cluster(cluster, namespace, stack)

    st.destroy(on_output=deployer.output, color="never")
    left = set(cluster.namespace_objects(namespace)) - KUBERNETES_MADE
    if on_cnpg:  # the Cluster is retained (it owns its claims), and what the operator made
        left -= set(cluster.owned_by_cluster(namespace, "postgres")) | {
            "cluster.postgresql.cnpg.io/postgres"}
    # the Namespace is retained on destroy (components/network.py) and with it the data the
    # StatefulSets' claims hold; nothing else survives
    assert {o for o in left if not o.startswith("persistentvolumeclaim/")} == set()
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    cluster.wait_gone(namespace)
    st.workspace.remove_stack(st.name)


def cnpg_cluster(cluster, namespace: str, stack) -> None:
    """What the operator made of the Cluster the program registered: healthy with every
    instance ready, one primary and the rest standbys labelled for the NetworkPolicies and
    scrape Services, its -rw/-ro Services, and the ScheduledBackup accepted."""
    import json

    pg = stack.postgres

    def status() -> dict:
        return json.loads(cluster.kubectl("get", "clusters.postgresql.cnpg.io", "postgres",
                                          "-n", namespace, "-o", "json").stdout).get("status", {})

    cluster.wait_for(lambda: status().get("phase") == "Cluster in healthy state"
                     and status().get("readyInstances") == 1 + pg.read_replicas,
                     "the CloudNativePG Cluster healthy", timeout=300)
    pods = cluster.get("pods", namespace)
    roles = sorted(p["metadata"]["labels"].get("cnpg.io/instanceRole", "") for p in pods
                   if p["metadata"]["labels"].get("cnpg.io/podRole") == "instance")
    assert roles == ["primary"] + ["replica"] * pg.read_replicas
    for p in pods:
        if p["metadata"]["labels"].get("cnpg.io/podRole") == "instance":
            assert p["metadata"]["labels"]["app.kubernetes.io/name"] == "postgres"
    services = {s["metadata"]["name"] for s in cluster.get("services", namespace)}
    assert {"postgres-rw", "postgres-ro"} <= services
    if pg.backup:
        (sb,) = cluster.get("scheduledbackups.postgresql.cnpg.io", namespace)
        assert sb["spec"]["schedule"] == pg.backup.schedule
