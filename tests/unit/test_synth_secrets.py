"""The stack's Secrets, and credentials: existing (issue 14 item 8): the team provides them,
the render and the Pulumi program hold nothing secret."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.synth import pgbouncer, secrets, synthesize
from phasestack.transitions.diff import PLACEHOLDER_VALUES

TEAM = Stack.for_phase("phase2", namespace="t", credentials="existing")


def test_existing_renders_no_secret_and_lists_what_the_pods_read():
    assert secrets.manifests(TEAM, PLACEHOLDER_VALUES) == []
    assert not [d for d in synthesize(TEAM, PLACEHOLDER_VALUES) if d["kind"] == "Secret"]
    assert secrets.required(TEAM) == {
        "postgres-credentials": ["postgres-password", "app-password", "replication-password",
                                 "monitor-password"],
        "redis-credentials": ["redis-password", "admin-password"],
        "grafana-credentials": ["admin-password"],
        # the CloudNativePG Cluster's initdb reads the app role from it (phase2's engine)
        "postgres-app": ["username", "password"]}
    # what the pods reference is exactly that (postgres-app: the Cluster, not a pod)
    refs = {(ref["name"], ref["key"]) for d in synthesize(TEAM, PLACEHOLDER_VALUES)
            for ref in _secret_refs(d)}
    assert refs == {(n, k) for n, keys in secrets.required(TEAM).items() for k in keys
                    if n != "postgres-app"}


def test_pgbouncer_writes_its_userlist_from_the_teams_postgres_secret():
    assert pgbouncer.writes_userlist(TEAM)
    (dep,) = [d for d in pgbouncer.manifests(TEAM) if d["kind"] == "Deployment"]
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["server-password"]["secret"]["secretName"] == "postgres-credentials"
    assert volumes["server-password"]["secret"]["items"] == [{"key": "app-password",
                                                              "path": "password"}]
    assert not pgbouncer.writes_userlist(Stack.for_phase("phase2"))


def test_validate_names_them_and_docker_refuses(refusal):
    from phasestack.plan.notes import notes

    (note, *_) = notes(TEAM)
    assert note.startswith("credentials: existing, so the namespace must hold, before "
                           "anything is applied: Secret postgres-credentials with "
                           "postgres-password, app-password")
    assert "credentials: existing" in refusal(lambda: Stack(target="docker",
                                                            credentials="existing"))


def _secret_refs(doc: dict):
    """Every (Secret, key) a manifest's pods read: env secretKeyRef and Secret volumes."""
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    for c in [*spec.get("containers", []), *spec.get("initContainers", [])]:
        for e in c.get("env", []):
            if "secretKeyRef" in e.get("valueFrom", {}):
                yield e["valueFrom"]["secretKeyRef"]
    for v in spec.get("volumes", []):
        sources = [v] if "secret" in v else [s for s in v.get("projected", {}).get(
            "sources", []) if "secret" in s]
        for s in sources:
            for item in s["secret"].get("items", []):
                yield {"name": s["secret"]["secretName" if "secretName" in s["secret"]
                                           else "name"], "key": item["key"]}
