"""`phasestack render` output applied with `kubectl apply --server-side` to a real API server:
every object accepted, then `kubectl diff` against it is empty."""

from __future__ import annotations

from secrets import token_urlsafe

import yaml
from deploy import ROOT, credentials, render

NAMESPACE = "ps-render"


def test_render_phase2_applies_server_side_and_diffs_clean(cluster, cnpg, tmp_path):
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.phase2.yaml").read_text())
    raw["config"]["phasestack:namespace"] = NAMESPACE
    stack_file = tmp_path / "Pulumi.render-phase2.yaml"
    stack_file.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    render(str(stack_file), credentials(), out)
    cnpg.ensure()  # the render's prerequisite, the CloudNativePG operator, answering
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


GITOPS = "ps-gitops"


def test_a_gitops_render_with_a_migration_applies_as_the_readme_says(cluster, cnpg, tmp_path):
    """credentials: existing renders no Secret (the team's, created here as External Secrets
    would); api.migration's Job is applied and waited for before the API, with the README's
    three commands, and the render then diffs clean."""
    from phasestack.model import Stack
    from phasestack.synth import secrets as synth_secrets

    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.phase2.yaml").read_text())
    raw["config"].update({"phasestack:namespace": GITOPS, "phasestack:credentials": "existing",
                          "phasestack:api": {"migration": {
                              "enabled": True, "command": ["./podinfo", "--version"]}}})
    stack_file = tmp_path / "Pulumi.gitops.yaml"
    stack_file.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    render(str(stack_file), {}, out)
    cnpg.ensure()  # the render's prerequisite, the CloudNativePG operator, answering
    assert not (out / "secrets.yaml").exists()
    docs = [d for f in sorted(out.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert not [d for d in docs if d["kind"] == "Secret"]
    cluster.kubectl("apply", "--server-side", "-f", str(out / "00-namespace.yaml"))
    stack = Stack.for_phase("phase2", namespace=GITOPS, credentials="existing")
    for name, keys in synth_secrets.required(stack).items():
        # the CloudNativePG Cluster's app role: basic-auth, its username the role's
        basic = name == "postgres-app"
        values = {k: "app" if basic and k == "username" else token_urlsafe(24) for k in keys}
        cluster.kubectl("create", "secret", "generic", name, "-n", GITOPS,
                        *(["--type=kubernetes.io/basic-auth"] if basic else []),
                        *(f"--from-literal={k}={v}" for k, v in values.items()))
    cluster.kubectl("apply", "--server-side", "-n", GITOPS, "-f", str(out),
                    "-l", "app.kubernetes.io/component notin (api,worker)")
    assert not [d for d in cluster.get("deployments", GITOPS)
                if d["metadata"]["name"] == "api"]  # the API waits for the migration
    cluster.kubectl("wait", "-n", GITOPS, "--for=condition=complete", "--timeout=120s", "job",
                    "-l", "app.kubernetes.io/component=migration")
    cluster.kubectl("apply", "--server-side", "-n", GITOPS, "-f", str(out))
    assert "api" in {d["metadata"]["name"] for d in cluster.get("deployments", GITOPS)}
    diff = cluster.kubectl("diff", "--server-side", "-f", str(out), check=False)
    assert diff.returncode == 0, f"kubectl diff:\n{diff.stdout}{diff.stderr}"
    cluster.kubectl("delete", "namespace", GITOPS, "--wait=false")
    cluster.wait_gone(GITOPS)
