"""ApiService: the API Deployment, its Services, HPA, PDB, any queue workers, and the schema
migration Job, which must complete before the API's and workers' Deployments change.

On its own: `ApiService("shop", ApiArgs(namespace="shop", image=..., database=Server(...),
redis=RedisServer(...)), opts)` deploys shop-api against those; in a Topology it registers the
stack's share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from phasestack.components import instance, kube
from phasestack.model import ApiArgs
from phasestack.synth.common import API, API_HEADLESS, named


@dataclass
class ApiServiceArgs(kube.KubeArgs):
    # what the migration Job waits for besides depends_on: the database it migrates (a first
    # install would otherwise spend its retries before PostgreSQL accepts logins)
    migrate_after: list[pulumi.Resource] = field(default_factory=list)


class ApiService(pulumi.ComponentResource):
    host: pulumi.Output[str]
    headless_host: pulumi.Output[str] | None
    port: pulumi.Output[int]

    def __init__(self, name: str, args: ApiArgs | ApiServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:ApiService", name, None, opts)
        share = instance.share(self, name, args, "api")
        stack, docs = share.stack, share.docs
        after = args.migrate_after if isinstance(args, ApiServiceArgs) else []
        group = kube.Group(self, share.provider, share.depends_on)
        for doc in docs:
            if doc["kind"] not in ("Job", "Deployment"):
                group.add(doc)  # the migration's ServiceAccount among them
        # the migration Job, then the Deployments: Pulumi waits for a Job to succeed (and
        # fails the update when it does not) within its timeout, the Job's deadline and a margin
        wait = f"{stack.api.migration.timeout_s + 60}s"
        # (after its ServiceAccount only: a Service waits for ready pods, which wait for it)
        accounts = [r for (kind, _), r in group.resources.items() if kind == "ServiceAccount"]
        jobs = kube.Group(self, share.provider, [*share.depends_on, *accounts, *after])
        migrated = [jobs.add(d, timeouts=pulumi.CustomTimeouts(create=wait, update=wait))
                    for d in docs if d["kind"] == "Job"]
        # and after its database: a CloudNativePG Cluster is awaited ready (its import done)
        pods = kube.Group(self, share.provider, [*share.depends_on, *migrated, *after])
        for doc in docs:
            if doc["kind"] == "Deployment":
                pods.add(doc)
        service = group.require("Service", named(stack, API))
        self.host = kube.service_dns(service)
        self.headless_host = kube.dns_of(group.get("Service", named(stack, API_HEADLESS)))
        self.port = kube.port_of(service)
        self.register_outputs({"host": self.host, "port": self.port,
                               **kube.present(headless_host=self.headless_host)})
