"""The team's application on the pods (synth.app, through synth.api): the shop stack's own
image, command, variables, Secrets, scheduling and worker autoscaling."""

from pathlib import Path

from phasestack.model import Stack
from phasestack.stackfile import load
from phasestack.synth import api

ROOT = Path(__file__).resolve().parents[2]


def shop() -> Stack:
    return load("shop", ROOT).stack


def by(docs, kind, name):
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_api_pod_runs_the_teams_app():
    docs = api.manifests(shop())
    pod = by(docs, "Deployment", "api")["spec"]["template"]
    c = pod["spec"]["containers"][0]
    assert c["image"] == "registry.example.com/acme/shop-api:1.4.2"
    assert c["command"] == ["node", "dist/server.js"] and "args" not in c
    env = {e["name"]: e for e in c["env"]}
    names = [e["name"] for e in c["env"]]
    # injected first, then the app's own (sorted), so $(DATABASE_URL) in an own value works
    assert names.index("PORT") < names.index("LOG_LEVEL")
    assert env["NODE_ENV"] == {"name": "NODE_ENV", "value": "production"}
    assert env["STRIPE_SECRET_KEY"]["valueFrom"] == {"secretKeyRef": {
        "name": "shop-payments", "key": "stripe-secret-key"}}
    assert c["envFrom"] == [{"configMapRef": {"name": "shop-settings"}}]
    assert pod["metadata"]["annotations"] == {"example.com/team": "checkout"}
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["spec"]["nodeSelector"] == {"workload": "web"}
    assert pod["spec"]["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]
    assert by(docs, "ServiceAccount", "api")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/shop-api"}


def test_worker_inherits_the_app_and_autoscales():
    docs = api.manifests(shop())
    dep = by(docs, "Deployment", "worker-emails")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["command"] == ["node", "dist/worker.js"]
    assert c["image"] == "registry.example.com/acme/shop-api:1.4.2"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["QUEUE_CONCURRENCY"] == "4" and env["NODE_ENV"] == "production"
    assert env["WORKER_QUEUE"] == "emails"
    assert pod["nodeSelector"] == {"workload": "web"}
    assert "replicas" not in dep["spec"]  # the HPA owns the count
    hpa = by(docs, "HorizontalPodAutoscaler", "worker-emails")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 4)
    assert hpa["scaleTargetRef"]["name"] == "worker-emails"


def test_a_workers_own_value_wins_and_the_api_keeps_its():
    s = Stack(api={"env": {"MODE": "web", "REGION": "eu"}, "args": ["--verbose"],
                   "workers": [{"name": "jobs", "image": "registry.example.com/jobs:2",
                                "env": {"MODE": "worker"}, "args": ["run"]}]})
    docs = api.manifests(s)
    web = by(docs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    job = by(docs, "Deployment", "worker-jobs")["spec"]["template"]["spec"]["containers"][0]
    assert [e["value"] for e in job["env"] if e["name"] == "MODE"] == ["worker"]
    assert [e["value"] for e in job["env"] if e["name"] == "REGION"] == ["eu"]
    assert [e["value"] for e in web["env"] if e["name"] == "MODE"] == ["web"]
    # the API keeps podinfo's command and gets the args; the worker's own image its own args
    assert web["command"][0] == "./podinfo" and web["args"] == ["--verbose"]
    assert job["image"] == "registry.example.com/jobs:2" and job["args"] == ["run"]
    assert "command" not in job


def test_renamed_injected_variables():
    s = Stack(api={"env_names": {"database_url": "PRISMA_DATABASE_URL",
                                 "redis_url": "CACHE_URL"}})
    c = by(api.manifests(s), "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    names = {e["name"] for e in c["env"]}
    assert {"PRISMA_DATABASE_URL", "CACHE_URL", "DATABASE_READ_URL"} <= names
    assert not {"DATABASE_URL", "REDIS_URL"} & names


def test_defaults_render_no_app_fields():
    pod = by(api.manifests(Stack()), "Deployment", "api")["spec"]["template"]
    assert not {"imagePullSecrets", "nodeSelector", "tolerations", "affinity"} & set(pod["spec"])
    assert "annotations" not in pod["metadata"]
    assert "envFrom" not in pod["spec"]["containers"][0]
