"""The PR preview workflow, the kind cluster kit and the kind stack (structure only: no Docker,
no cluster and no download here).

kind/cluster.yaml is checked against kind's v1alpha4 config types
(sigs.k8s.io/kind/pkg/apis/config/v1alpha4/types.go: Cluster, Node, PortMapping, Mount).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from phasestack.plan import capacity
from phasestack.stackfile import load
from phasestack.synth import nginx

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
KIND = ROOT / "kind"

# kind v1alpha4 (types.go): allowed keys of each object
CLUSTER_KEYS = {"kind", "apiVersion", "name", "nodes", "networking", "featureGates",
                "runtimeConfig", "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902",
                "containerdConfigPatches", "containerdConfigPatchesJSON6902"}
NODE_KEYS = {"role", "image", "labels", "extraMounts", "extraPortMappings", "gpus",
             "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902"}
PORT_MAPPING_KEYS = {"containerPort", "hostPort", "listenAddress", "protocol"}
ROLES = {"control-plane", "worker"}
PROTOCOLS = {"TCP", "UDP", "SCTP"}
NODE_PORT_RANGE = range(30000, 32768)  # kube-apiserver's default --service-node-port-range


def workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as True
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def steps(job: dict) -> list[dict]:
    return job["steps"]


def test_workflow_runs_on_pull_requests_with_four_jobs():
    doc = workflow()
    assert "pull_request" in doc["on"]
    assert set(doc["jobs"]) == {"test", "diff", "preview", "e2e"}
    assert doc["permissions"] == {"contents": "read"}


def test_test_job_runs_make_test_on_debian():
    job = workflow()["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest" and job["container"] == "debian:bookworm"
    assert [s["run"] for s in steps(job) if s.get("run") == "make test"] == ["make test"]


def test_diff_job_diffs_changed_stacks_against_main_and_comments():
    job = workflow()["jobs"]["diff"]
    script = "\n".join(s.get("run", "") for s in steps(job))
    assert "git show \"$BASE:$f\"" in script
    assert "phasestack diff \"$RUNNER_TEMP/base/Pulumi.$name.yaml\" \"$f\" --format markdown" \
        in script
    assert "phasestack plan \"$f\" --format markdown" in script  # new stacks
    assert "'stacks/Pulumi.*.yaml'" in script
    # and every stack's render at main and at the PR (tests/unit/test_pr_diff.py runs it)
    assert 'python .github/scripts/pr_diff.py "$BASE" >> "$out"' in script
    checkout = next(s for s in steps(job) if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    comment = next(s for s in steps(job) if "sticky-pull-request-comment" in s.get("uses", ""))
    assert comment["with"]["path"].endswith("comment.md")
    assert job["permissions"]["pull-requests"] == "write"
    assert set(job["outputs"]) == {"stacks", "has_credentials"}


def test_preview_job_uses_pulumi_action_only_with_credentials():
    job = workflow()["jobs"]["preview"]
    assert job["needs"] == "diff"
    assert "has_credentials == 'true'" in job["if"] and "stacks != '[]'" in job["if"]
    action = next(s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@"))
    assert re.fullmatch(r"pulumi/actions@v[56]", action["uses"])
    w = action["with"]
    assert w["command"] == "preview" and w["comment-on-pr"] is True and w["diff"] is True
    assert w["work-dir"] == "." and "matrix.stack" in w["stack-name"]
    assert job["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert "secrets.KUBECONFIG" in WORKFLOW.read_text()
    credentials = next(s for s in steps(workflow()["jobs"]["diff"])
                       if s.get("id") == "credentials")
    assert set(credentials["env"]) == {"HAS_TOKEN", "HAS_KUBECONFIG"}


def test_e2e_job_runs_make_e2e_for_the_changed_stacks_at_the_pinned_versions():
    job = workflow()["jobs"]["e2e"]
    assert job["needs"] == "diff" and "stacks != '[]'" in job["if"]
    script = "\n".join(s.get("run", "") for s in steps(job))
    assert "cat toolchain/versions.env >> \"$GITHUB_ENV\"" in script
    # every version comes from versions.env, none is written into the workflow
    for var in ("PULUMI_VERSION", "PULUMI_KUBERNETES_VERSION", "KWOK_VERSION",
                "KUBERNETES_VERSION", "ETCD_VERSION"):
        assert f"${var}" in script, var
    assert re.search(r"\d+\.\d+\.\d+", script) is None
    run = next(s for s in steps(job) if s.get("run") == "make e2e")
    assert run["env"]["CI"] == "true"
    assert "needs.diff.outputs.stacks" in run["env"]["PHASESTACK_E2E_STACKS"]
    # the binaries tests/e2e needs are all put on PATH
    for binary in ("kwokctl", "kwok", "kube-apiserver", "kube-controller-manager",
                   "kube-scheduler", "kubectl", "/etcd"):
        assert binary in script, binary
    assert "resource-kubernetes-v$PULUMI_KUBERNETES_VERSION" in script


def test_kind_cluster_config_matches_v1alpha4():
    doc = yaml.safe_load((KIND / "cluster.yaml").read_text())
    assert doc["kind"] == "Cluster" and doc["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert set(doc) <= CLUSTER_KEYS
    roles = [n["role"] for n in doc["nodes"]]
    assert set(roles) <= ROLES
    assert roles.count("control-plane") == 1 and roles.count("worker") == 3
    mappings = []
    for node in doc["nodes"]:
        assert set(node) <= NODE_KEYS
        for m in node.get("extraPortMappings", []):
            assert set(m) <= PORT_MAPPING_KEYS
            assert isinstance(m["containerPort"], int) and isinstance(m["hostPort"], int)
            assert m.get("protocol", "TCP") in PROTOCOLS
            mappings.append(m)
    assert [(m["containerPort"], m["hostPort"]) for m in mappings] == [(30080, 8080)]
    assert mappings[0]["containerPort"] in NODE_PORT_RANGE


def test_kind_stack_exposes_nginx_on_the_mapped_node_port():
    """kind has no load-balancer controller: the kind stack's nginx Service is a NodePort on
    the port kind/cluster.yaml maps, with the Cluster policy; production keeps LoadBalancer."""
    svc = next(d for d in nginx.manifests(load("kind").stack)
               if d["kind"] == "Service" and d["metadata"]["name"] == "nginx")
    mapped = yaml.safe_load((ROOT / "kind" / "cluster.yaml").read_text())
    ports = [m["containerPort"] for n in mapped["nodes"] for m in n.get("extraPortMappings", [])]
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"
    assert [p["nodePort"] for p in svc["spec"]["ports"]] == ports == [30080]
    prod = next(d for d in nginx.manifests(load("phase2").stack)
                if d["kind"] == "Service" and d["metadata"]["name"] == "nginx")
    assert prod["spec"]["type"] == "LoadBalancer"
    assert prod["spec"]["externalTrafficPolicy"] == "Local"


def test_metrics_server_kustomization_pins_a_release_and_patches_tls():
    doc = yaml.safe_load((KIND / "metrics-server" / "kustomization.yaml").read_text())
    assert doc["kind"] == "Kustomization"
    [url] = doc["resources"]
    assert re.fullmatch(r"https://github\.com/kubernetes-sigs/metrics-server/releases/download/"
                        r"v\d+\.\d+\.\d+/components\.yaml", url)
    [patch] = doc["patches"]
    assert patch["target"]["name"] == "metrics-server"
    ops = yaml.safe_load(patch["patch"])
    assert ops == [{"op": "add", "path": "/spec/template/spec/containers/0/args/-",
                    "value": "--kubelet-insecure-tls"}]


def test_kind_stack_keeps_phase2_shape_with_smaller_resources():
    kind, phase2 = load("kind").stack, load("phase2").stack
    assert kind.namespace == "ps-kind" and kind.kube_context == "kind-phasestack"
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.kind.yaml").read_text())["config"]
    assert raw["kubernetes:context"] == "kind-phasestack"
    shape = lambda s: (s.phase, s.api.hpa, s.nginx.replicas, s.nginx.hpa.enabled,  # noqa: E731
                       s.redis.mode, s.redis.masters, s.redis.replicas_per_master,
                       s.postgres.read_replicas, s.pgbouncer.replicas,
                       s.pgbouncer.default_pool_size, s.monitoring.grafana)
    assert shape(kind) == shape(phase2)
    assert kind.redis.maxmemory_mb < phase2.redis.maxmemory_mb
    assert kind.redis.storage_gb < phase2.redis.storage_gb
    assert kind.postgres.storage_gb < phase2.postgres.storage_gb
    mib = {"Mi": 1, "Gi": 1024}
    for part in ("api", "redis", "postgres", "pgbouncer", "nginx"):
        small, big = getattr(kind, part).resources, getattr(phase2, part).resources
        as_mib = lambda q: int(q[:-2]) * mib[q[-2:]]  # noqa: E731
        assert as_mib(small.memory_limit) < as_mib(big.memory_limit), part
    # maxmemory fits under the Redis container's limit
    assert kind.redis.maxmemory_mb < int(kind.redis.resources.memory_limit[:-2])
    assert capacity.plan(kind, "kind").verdict == capacity.PASS


@pytest.mark.parametrize("target", ["kind-up", "kind-down"])
def test_make_targets(target):
    # --no-print-directory: under `make test` the nested make would print "Entering directory"
    make = ["make", "--no-print-directory", "-n", target]
    out = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    if target == "kind-up":
        assert ("kind create cluster --config kind/cluster.yaml --name phasestack" in out)
        assert "apply -k kind/metrics-server" in out
        assert "phasestack render kind --out out/kind" in out
        assert out.index("00-namespace.yaml") < out.index("apply -f out/kind/\n")
        # it reports success only when every Deployment and StatefulSet rolled out
        assert "get deployments,statefulsets -o name" in out
        assert "rollout status $w --timeout=600s || exit 1" in out
        pulumi = subprocess.run([*make, "DEPLOY=pulumi"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout
        assert "pulumi up --stack kind --yes" in pulumi and "render" not in pulumi
    else:
        assert out.strip() == "kind delete cluster --name phasestack"
