"""The one table of components (issue 13). A component's key is its stack field, its
app.kubernetes.io/component label, its runbook steps' component and its Pulumi child.
Everything that loops over components reads this table; tests/unit/test_catalog.py fails when
a consumer misses a row. Pure: names only, no imports of what it names.

Adding a component: a row here, its model section (phasestack/model/), its synthesizer
(phasestack/synth/<key>.py with COMPONENT = the key, manifests() and flows()), its Pulumi
component (components/<file>.py, wired in components/topology.py), its runbook step builder,
its scrape job and dashboard (synth/prometheus.py, synth/grafana.py), its credentials
(synth/wiring.py CREDENTIALS), and the tests that mirror those files.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Component:
    key: str                        # stack field = label = runbook component = Pulumi child
    steps: tuple[str, ...]          # runbook step builders, "module:function", in order
    credentials: tuple[str, ...]    # keys of synth.wiring.CREDENTIALS its Secrets hold
    docker: bool                    # the single-host (docker) target runs it

    @property
    def module(self) -> ModuleType:
        """Its synthesizer: phasestack.synth.<key>."""
        return importlib.import_module(f"phasestack.synth.{self.key}")


# In dependency order: what others connect to first (the runbook's step order too).
CATALOG: tuple[Component, ...] = (
    Component("postgres",
              ("transitions.managed:postgres", "transitions.cnpg:postgres",
               "transitions.postgres:postgres"),
              ("postgresPassword", "appPassword", "replicationPassword", "monitorPassword"),
              docker=True),
    Component("pgbouncer", ("transitions.postgres:pooler",), (), docker=False),
    Component("redis", ("transitions.managed:redis", "transitions.redis:redis"),
              ("redisPassword", "redisAdminPassword"), docker=True),
    Component("api",
              ("transitions.stateless:migration", "transitions.stateless:api_hpa",
               "transitions.stateless:workers"), (),
              docker=True),
    Component("nginx", ("transitions.stateless:nginx",), (), docker=True),
    Component("monitoring", ("transitions.stateless:monitoring",),
              ("grafanaPassword",), docker=True),
)
KEYS = tuple(c.key for c in CATALOG)
# Pulumi children that are not a row: the Namespace and NetworkPolicies, and the Secrets
NETWORK, CREDENTIALS = "network", "credentials"
# labels of a row's parts: queue workers (api.workers) and the migration Job (api.migration)
# are the API's but carry their own label (their own render file and runbook step)
WORKER, MIGRATION = "worker", "migration"
PARTS = {WORKER: "api", MIGRATION: "api"}


def owner_of(label: str) -> str | None:
    """The Pulumi child that registers a manifest with this component label."""
    if label in PARTS:
        return PARTS[label]
    return label if label in KEYS else None


def owners() -> tuple[str, ...]:
    """Every Pulumi child of the Kubernetes topology, in registration order."""
    return (NETWORK, CREDENTIALS, *KEYS)


def step_builders() -> tuple:
    """The components' runbook step builders, in catalog order."""
    out = []
    for c in CATALOG:
        for ref in c.steps:
            module, name = ref.split(":")
            out.append(getattr(importlib.import_module(f"phasestack.{module}"), name))
    return tuple(out)
