"""One catalog of components (issue 13 item 3): every consumer that loops over components
reads phasestack.catalog or is checked against it here, so a row missing anywhere fails."""

from __future__ import annotations

import pytest

from phasestack import catalog
from phasestack.catalog import CATALOG, KEYS, PARTS
from phasestack.model import Stack
from phasestack.synth import component_of, components, grafana, prometheus, synthesize
from phasestack.synth.secrets import CREDENTIALS
from phasestack.transitions import runbook
from phasestack.transitions.diff import PLACEHOLDER_VALUES

PHASE3 = Stack(phase="phase3")  # every component present


def test_a_key_is_a_stack_field_and_a_synthesizer():
    assert list(components()) == list(KEYS)
    for c in CATALOG:
        assert c.key in Stack.model_fields, c.key
    assert len(set(KEYS)) == len(KEYS)


@pytest.mark.parametrize("phase", ["mvp", "phase1", "phase2", "phase3"])
def test_every_manifest_carries_a_catalog_label_and_has_an_owner(phase):
    docs = synthesize(Stack(phase=phase), PLACEHOLDER_VALUES)
    for doc in docs:
        if doc["kind"] in ("Namespace", "NetworkPolicy", "Secret"):
            continue
        label = component_of(doc)
        assert label in (*KEYS, *PARTS), (doc["kind"], doc["metadata"]["name"], label)
        assert catalog.owner_of(label) in catalog.owners()


def test_each_synthesizer_labels_its_manifests_with_its_key():
    for c in CATALOG:
        labels = {component_of(d) for d in c.module.manifests(PHASE3)}
        assert labels - set(PARTS) == {c.key}, (c.key, labels)


def test_the_pulumi_split_groups_by_label():
    from phasestack.components.topology import split

    parts = split(synthesize(PHASE3, PLACEHOLDER_VALUES))
    assert list(parts) == list(catalog.owners())
    for c in CATALOG:
        names = {(d["kind"], d["metadata"]["name"]) for d in parts[c.key]}
        assert {(d["kind"], d["metadata"]["name"]) for d in c.module.manifests(PHASE3)} <= names


def test_runbook_steps_come_from_the_catalog_in_its_order():
    builders = catalog.step_builders()
    assert runbook.STEP_BUILDERS[3:3 + len(builders)] == builders
    assert all(c.steps for c in CATALOG)


def test_every_credential_belongs_to_one_component():
    owned = [k for c in CATALOG for k in c.credentials]
    assert sorted(owned) == sorted(CREDENTIALS), (owned, list(CREDENTIALS))


def test_every_component_with_pods_is_scraped_and_has_a_dashboard():
    jobs = {j.name for j in prometheus.jobs(PHASE3)}
    boards = {k.removesuffix(".json") for k in grafana.dashboards(PHASE3)}
    for key in (k for k in KEYS if k != "monitoring"):
        assert key in jobs and key in boards, key


def test_docker_target_runs_the_rows_marked_docker():
    from phasestack.targets import docker_services as compose_services

    mvp = Stack(phase="mvp", target="docker")
    services = {s.name for s in compose_services.services(mvp)}
    for c in CATALOG:
        present = any(component_of(d) == c.key for d in c.module.manifests(mvp))
        if c.docker and present and c.key != "monitoring":
            assert c.key in services, (c.key, services)
        if not c.docker:
            assert c.key not in services, c.key
