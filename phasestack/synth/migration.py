"""The schema migration Job (issue 14 item 5): the API's image, environment and Secrets running
api.migration.command once per release, before the new API pods roll out.

Its name ends in a hash of its pod template, so a new image (or command, or variable) is a new
Job that runs again: a Job's template is immutable, and an unchanged release re-runs nothing.
`pulumi up` waits for it to complete before it updates the API's and workers' Deployments;
rendered, it is its own file (component label `migration`), applied and waited for first.
"""

from __future__ import annotations

import hashlib
import json

from phasestack.model import Stack
from phasestack.synth import common as c
from phasestack.synth.app import TMP, UID, env_from, own_env, scheduling, service_account
from phasestack.synth.inject import env, redis_flows

COMPONENT = "migration"
# Argo CD applies a sync wave only when the one before is healthy (a Job: complete): the data
# tier and everything else (wave 0), then this Job (1), then the API's and workers'
# Deployments and HPAs (2). `kubectl apply -f` of the whole render waits for nothing (README).
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
JOB_WAVE, APP_WAVE = "1", "2"


def job_name(stack: Stack, template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
    return f"{c.named(stack, c.MIGRATE)}-{digest}"


def manifests(stack: Stack) -> list[dict]:
    a, m = stack.api, stack.api.migration
    if not m.enabled:
        return []
    command = {"command": list(m.command), **({"args": list(m.args)} if m.args else {})}
    container = c.job_container(
        "migrate", a.image, c.resources(m.resources),
        env=[*env(stack, direct=True), *own_env(a)], **env_from(a),
        volumeMounts=[{"name": "tmp", "mountPath": TMP}], **command)
    spec = c.pod_spec(stack, c.MIGRATE, UID, [container], service_account=c.MIGRATE,
                      spread=False, restartPolicy="Never", volumes=[c.empty_dir("tmp")],
                      **scheduling(stack))
    template = c.pod_template(stack, c.MIGRATE, COMPONENT, spec,
                              dict(a.pod_annotations) or None)
    # its own ServiceAccount, so it can be applied and waited for before anything of the API's;
    # the finished Job stays as the release's record (the next release's replaces it)
    job = c.job(stack, c.MIGRATE, COMPONENT, template, m.backoff_limit, m.timeout_s,
                job_name(stack, template))
    job["metadata"]["annotations"] = {SYNC_WAVE: JOB_WAVE}
    return [service_account(stack, c.MIGRATE, COMPONENT), job]


def after_migration(stack: Stack, docs: list[dict]) -> list[dict]:
    """The API's and workers' Deployments, and their HPAs, in the sync wave after the Job's (an
    HPA applied before its Deployment exists is Degraded to Argo CD, which fails the sync)."""
    if stack.api.migration.enabled:
        for d in docs:
            if d["kind"] in ("Deployment", "HorizontalPodAutoscaler"):
                d["metadata"].setdefault("annotations", {})[SYNC_WAVE] = APP_WAVE
    return docs


def flows(stack: Stack) -> list[c.Flow]:
    """Straight to the primary (not PgBouncer's transaction pools), and to Redis, whose URL it
    is given like the API (an app's migrate command may boot the app)."""
    if not stack.api.migration.enabled:
        return []
    primary = [] if stack.postgres.external else [c.Flow(c.MIGRATE, c.POSTGRES,
                                                         c.PORTS.postgres)]
    return [*primary, *redis_flows(stack, c.MIGRATE)]
