"""Shared synthesizer helpers: the one config-hash annotation, HPA-owned replica counts, Job
containers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from phasestack.stackfile import list_stack_files, load
from phasestack.synth import common, synthesize
from phasestack.synth.secrets import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
STACKS = [p.name[len("Pulumi."):-len(".yaml")] for p in list_stack_files(ROOT)]
VALUES = {c: f"secret-value-{c}" for c in CREDENTIALS}


def test_config_hash_is_one_short_annotation():
    a = common.config_hash("x = 1\n")
    assert a == {"phasestack.io/config-hash": hashlib.sha256(b"x = 1\n").hexdigest()[:16]}
    assert common.config_hash("x = 1\n") == a
    assert common.config_hash("x = 2\n") != a
    # the texts are kept apart: moving a line from one file to the next changes the hash
    assert common.config_hash("ab", "c") != common.config_hash("a", "bc")


@pytest.mark.parametrize("name", STACKS)
def test_every_workload_with_a_config_map_rolls_on_the_one_key(name):
    docs = synthesize(load(name, ROOT).stack, VALUES)
    secrets = list(VALUES.values())
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        tpl = d["spec"]["template"]
        notes = tpl["metadata"].get("annotations", {})
        hashed = [k for k in notes if any(w in k for w in ("hash", "checksum", "sha"))]
        assert hashed in ([], [common.CONFIG_HASH]), (d["metadata"]["name"], hashed)
        volumes = tpl["spec"].get("volumes", [])
        maps = [v for v in volumes if "configMap" in v or "projected" in v]
        assert bool(maps) == bool(hashed), d["metadata"]["name"]
        # never a digest of a credential (an offline guessing aid)
        digests = {hashlib.sha256(s.encode()).hexdigest()[:16] for s in secrets}
        assert not digests & set(notes.values())


@pytest.mark.parametrize("name", STACKS)
def test_hpa_targets_carry_no_replica_count(name):
    docs = synthesize(load(name, ROOT).stack, VALUES)
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in docs
              if d["kind"] == "HorizontalPodAutoscaler"}
    for d in docs:
        if d["kind"] == "Deployment":
            assert ("replicas" in d["spec"]) is (d["metadata"]["name"] not in scaled)


def test_deployment_without_replicas():
    stack = load("phase3", ROOT).stack
    spec = common.pod_spec(stack, "x", 1000, [])
    assert "replicas" not in common.deployment(stack, "x", "c", None, spec)["spec"]
    assert common.deployment(stack, "x", "c", 0, spec)["spec"]["replicas"] == 0


def test_job_container_has_secure_defaults_and_no_probes():
    c = common.job_container("j", "img:1", common.small_resources(), command=["true"])
    assert c["securityContext"] == common.container_security()
    assert c["command"] == ["true"] and c["resources"]["limits"]
    assert not {"livenessProbe", "readinessProbe", "ports"} & c.keys()


def test_placement_spreads_over_zones_and_keeps_data_pods_apart():
    """Issue 15: zone spread preferred everywhere; host spread required for the Redis Cluster
    and PgBouncer (honouring taints, so a kind control plane is no domain); a PostgreSQL
    replica away from its primary's node and zone where the cluster allows."""
    from phasestack.model import Stack
    from phasestack.synth import synthesize
    from phasestack.transitions.diff import PLACEHOLDER_VALUES

    # the statefulset engine's replicas (phase3's CloudNativePG Cluster: test_synth_cnpg)
    docs = {d["metadata"]["name"]: d["spec"]["template"]["spec"]
            for d in synthesize(Stack.for_phase("phase3", postgres={"engine": "statefulset"}),
                                PLACEHOLDER_VALUES)
            if d["kind"] in ("Deployment", "StatefulSet")}
    def rules(name):
        return [(t["topologyKey"], t["whenUnsatisfiable"], t.get("nodeTaintsPolicy"))
                for t in docs[name].get("topologySpreadConstraints", [])]
    zone = ("topology.kubernetes.io/zone", "ScheduleAnyway", None)
    for name in ("redis", "pgbouncer"):
        assert rules(name) == [zone, ("kubernetes.io/hostname", "DoNotSchedule", "Honor")]
    for name in ("api", "nginx", "postgres", "postgres-replica"):
        assert rules(name) == [zone, ("kubernetes.io/hostname", "ScheduleAnyway", None)], name
    assert rules("prometheus") == []  # one pod on a ReadWriteOnce volume
    term = {"labelSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}}}
    # preferred, not required: a required term binds both ways, and 3 replicas on 3 nodes left
    # the primary nowhere to run
    assert docs["postgres-replica"]["affinity"] == {"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {**term, "topologyKey": "kubernetes.io/hostname"}},
            {"weight": 50, "podAffinityTerm": {**term,
                                               "topologyKey": "topology.kubernetes.io/zone"}}]}}
    assert "affinity" not in docs["postgres"]
    # a standalone Redis is one pod: nothing to keep apart
    phase1 = {d["metadata"]["name"]: d for d in synthesize(load("phase1").stack,
                                                          PLACEHOLDER_VALUES)}
    assert phase1["redis"]["spec"]["template"]["spec"]["topologySpreadConstraints"][1][
        "whenUnsatisfiable"] == "ScheduleAnyway"
