"""`phasestack render` output applied with `kubectl apply --server-side` to a real API server:
every object accepted, then `kubectl diff` against it is empty."""

from __future__ import annotations

import yaml
from deploy import ROOT, credentials, render

NAMESPACE = "ps-render"


def test_render_phase2_applies_server_side_and_diffs_clean(cluster, tmp_path):
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.phase2.yaml").read_text())
    raw["config"]["phasestack:namespace"] = NAMESPACE
    stack_file = tmp_path / "Pulumi.render-phase2.yaml"
    stack_file.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    render(str(stack_file), credentials(), out)
    apply = ("apply", "--server-side", "--field-manager=phasestack-e2e")
    cluster.kubectl(*apply, "-f", str(out / "00-namespace.yaml"))
    cluster.kubectl(*apply, "-f", str(out / "secrets.yaml"))
    cluster.kubectl(*apply, "-f", str(out))
    names = cluster.kubectl("get", "all,configmap,secret,networkpolicy,pdb,hpa", "-n", NAMESPACE,
                            "-o", "name").stdout.split()
    docs = [d for f in sorted(out.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert len(docs) > 40
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Service", "ConfigMap", "Secret",
                         "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            kind = {"PodDisruptionBudget": "poddisruptionbudget.policy",
                    "HorizontalPodAutoscaler": "horizontalpodautoscaler.autoscaling",
                    "NetworkPolicy": "networkpolicy.networking.k8s.io",
                    "Deployment": "deployment.apps", "StatefulSet": "statefulset.apps"
                    }.get(d["kind"], d["kind"].lower())
            assert f"{kind}/{d['metadata']['name']}" in names
    for path in (out / "00-namespace.yaml", out / "secrets.yaml", out):
        diff = cluster.kubectl("diff", "--server-side", "--field-manager=phasestack-e2e",
                               "-f", str(path), check=False)
        assert diff.returncode == 0, f"kubectl diff {path.name}:\n{diff.stdout}{diff.stderr}"
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    cluster.wait_gone(NAMESPACE)
