"""The schema migration Job (issue 14 item 5): the API's image and environment, straight to the
primary, a new Job per release, its own file and runbook step before the API's."""

from __future__ import annotations

from phasestack.model import Stack
from phasestack.stackfile import load
from phasestack.synth import api, migration, network, synthesize
from phasestack.targets.kubernetes import files
from phasestack.transitions import runbook
from phasestack.transitions.diff import PLACEHOLDER_VALUES
from tests.unit.test_manifests import ROOT

PRISMA = {"enabled": True, "command": ["npx", "prisma", "migrate", "deploy"]}


def migrating(phase: str = "phase1", **api) -> Stack:
    return Stack.for_phase(phase, namespace="t", api={"migration": PRISMA, **api})


def job(stack: Stack) -> dict:
    (found,) = [d for d in migration.manifests(stack) if d["kind"] == "Job"]
    return found


def test_no_migration_by_default():
    assert migration.manifests(Stack()) == []
    assert migration.flows(Stack()) == []
    assert not [d for d in synthesize(Stack(phase="phase3"), PLACEHOLDER_VALUES)
                if d["kind"] == "Job" and "migrate" in d["metadata"]["name"]]


def test_the_job_runs_the_command_with_the_api_image_env_and_secrets_past_pgbouncer():
    stack = load("shop", ROOT).stack  # phase1: PgBouncer on
    spec = job(stack)["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (4, 900)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "api-migrate"
    assert pod["nodeSelector"] == {"workload": "web"}  # where the API may run
    (c,) = pod["containers"]
    assert c["image"] == stack.api.image and c["command"] == PRISMA["command"]
    assert "livenessProbe" not in c and c["securityContext"]["readOnlyRootFilesystem"]
    env = {e["name"]: e for e in c["env"]}
    # the managed primary itself (its writer endpoint), where the API goes through PgBouncer
    assert env["DATABASE_URL"]["value"] == (
        f"postgresql://app:$(DB_PASSWORD)@{stack.postgres.external.host}:5432/app"
        "?sslmode=require")
    assert "pgbouncer" in {e["name"]: e for e in api.env(stack)}["DATABASE_URL"]["value"]
    inside = {e["name"]: e for e in job(migrating())["spec"]["template"]["spec"][
        "containers"][0]["env"]}
    assert inside["DATABASE_URL"]["value"] == (
        "postgresql://app:$(DB_PASSWORD)@postgres.t.svc.cluster.local:5432/app")
    assert env["STRIPE_SECRET_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "shop-payments", "key": "stripe-secret-key"}}
    assert c["envFrom"] == [{"configMapRef": {"name": "shop-settings"}}]
    (account,) = [d for d in migration.manifests(stack) if d["kind"] == "ServiceAccount"]
    assert account["metadata"]["annotations"] == stack.api.service_account_annotations


def test_a_new_release_is_a_new_job_and_the_same_one_is_not():
    first = job(migrating())["metadata"]["name"]
    assert first.startswith("api-migrate-") and len(first) == len("api-migrate-") + 10
    assert job(migrating())["metadata"]["name"] == first
    assert job(migrating(image="registry.example.com/app:2"))["metadata"]["name"] != first
    assert job(migrating(env={"X": "1"}))["metadata"]["name"] != first


def test_it_may_reach_the_primary_redis_and_the_apps_egress_only():
    assert [(f.dst, f.port) for f in migration.flows(migrating())] == [("postgres", 5432),
                                                                       ("redis", 6379)]
    # a managed PostgreSQL and Redis: egress to them, not flows
    stack = load("shop", ROOT).stack
    assert migration.flows(stack) == []
    external = {p["metadata"]["name"]: p for p in network.external(stack)}
    app = external["egress-api-external"]["spec"]["egress"]
    vpc = [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert app[-1] == {"to": vpc, "ports": [{"protocol": "TCP", "port": 6379}]}
    assert external["egress-api-migrate-external"]["spec"]["egress"] == [
        *app[:-1], {"to": vpc, "ports": [{"protocol": "TCP", "port": 5432}]}, app[-1]]


def test_rendered_as_its_own_file_before_the_apis():
    texts, _ = files(synthesize(migrating(), PLACEHOLDER_VALUES))
    names = sorted(texts)
    (mig,) = [n for n in names if n.endswith("-migration.yaml")]
    (app,) = [n for n in names if n.endswith("-api.yaml")]
    assert "kind: Job" in texts[mig] and "kind: Job" not in texts[app]
    assert mig < app, names  # kubectl apply -f DIR/ takes the files in name order
    kinds = [d["kind"] for d in synthesize(migrating(), PLACEHOLDER_VALUES)]
    assert kinds.index("Job") < kinds.index("Deployment")  # render --stdout


def test_argo_cd_waits_for_the_job_before_the_apps_deployments():
    s = migrating(workers=[{"name": "mail"}])
    docs = synthesize(s, PLACEHOLDER_VALUES)
    wave = "argocd.argoproj.io/sync-wave"
    waves = {(d["kind"], d["metadata"]["name"]): d["metadata"].get("annotations", {}).get(wave)
             for d in docs if d["kind"] in ("Job", "Deployment", "HorizontalPodAutoscaler")}
    assert waves[("Deployment", "api")] == waves[("Deployment", "worker-mail")] == "2"
    assert waves[("HorizontalPodAutoscaler", "api")] == "2"  # phase1's API HPA
    assert [w for (k, _), w in waves.items() if k == "Job"] == ["1"]
    # nginx, PgBouncer and the rest stay in wave 0, and a stack without a migration has none
    assert waves[("Deployment", "nginx")] is None
    assert not [d for d in synthesize(Stack.for_phase("phase1"), PLACEHOLDER_VALUES)
                if wave in d["metadata"].get("annotations", {})]


def test_runbook_runs_and_waits_for_a_new_migration_before_the_api():
    before, after = migrating(), migrating(image="ghcr.io/stefanprodan/podinfo:6.7.2")
    steps = runbook.runbook(before, after, "a", "b").steps
    titles = [s.title for s in steps]
    step = steps[titles.index("Schema migration")]
    assert step.component == "migration"
    assert step.commands == [
        'kubectl apply -n "$NS" -f out/next/ -l app.kubernetes.io/component=migration',
        'kubectl wait -n "$NS" --for=condition=complete --timeout=900s job -l '
        "app.kubernetes.io/component=migration"]
    assert any("expand, then contract" in r or "only add" in r for r in step.risks)
    # the same release again: nothing to migrate
    assert "Schema migration" not in [s.title for s in
                                      runbook.runbook(after, after, "a", "b").steps]
