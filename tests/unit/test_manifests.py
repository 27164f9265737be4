"""Every manifest of every stack: official schemas (strict) and a consistency check of wiring."""

import re
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest

from phasestack.stackfile import list_stack_files, load
from phasestack.synth import flows as synth_flows
from phasestack.synth import synthesize
from phasestack.synth.objects import WORKLOADS, pod_template_of
from phasestack.synth.secrets import CREDENTIALS
from tests.unit import crd_schema, operator_made
from tests.unit.conftest import component_instances

ROOT = Path(__file__).parents[2]
FILES = [p.name[len("Pulumi."):-len(".yaml")] for p in list_stack_files(ROOT)]
# the same stacks as named instances ("<stack>@<prefix>"): every name and reference prefixed,
# so two instances share a namespace (issue 13)
PREFIX = "blue-"
PREFIXED = [f"{s}@{PREFIX}" for s in ("mvp", "phase2", "phase3")]
STACKS = [*FILES, *PREFIXED]
VALUES = {c: f"test-{c}" for c in CREDENTIALS}
VERSIONS = ["1.30", kubernetes_validate.latest_version().rsplit(".", 1)[0]]


@cache
def docs(name: str) -> tuple[dict, ...]:
    return tuple(synthesize(stack(name), VALUES))


@cache
def stack(name: str):
    file, _, prefix = name.partition("@")
    loaded = load(ROOT / f"stacks/Pulumi.{file}.yaml").stack
    return loaded.model_copy(update={"prefix": prefix}) if prefix else loaded


def by_kind(name: str, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs(name) if d["kind"] == kind}


def pod_templates(name: str) -> list[tuple[dict, dict]]:
    """(workload, pod template)"""
    return [(d, pod_template_of(d)) for d in docs(name) if d["kind"] in WORKLOADS]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", STACKS)
def test_official_schema_strict(name, version):
    for doc in docs(name):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            crd_schema.validate_strict(doc, version)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
            pytest.fail(f"{name} {where} on {version}: {e}")


@pytest.mark.parametrize("name", STACKS)
def test_names_unique_and_namespaced(name):
    seen = set()
    ns = stack(name).namespace
    for d in docs(name):
        key = (d["kind"], d["metadata"]["name"])
        assert key not in seen, key
        seen.add(key)
        if d["kind"] in ("ClusterRole", "ClusterRoleBinding"):  # cluster-wide: named for it
            assert "namespace" not in d["metadata"] and key[1].endswith(f"-{ns}"), key
        elif d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == ns, key
        assert "app.kubernetes.io/part-of" in d["metadata"]["labels"], key


@pytest.mark.parametrize("name", STACKS)
def test_service_selectors_match_pods(name):
    labels = [t["metadata"]["labels"] for _, t in pod_templates(name)]
    # a StatefulSet's pods also carry their name (its controller's pod-name label)
    labels += [{**t["metadata"]["labels"], "statefulset.kubernetes.io/pod-name":
                f"{w['metadata']['name']}-{i}"}
               for w, t in pod_templates(name) if w["kind"] == "StatefulSet"
               for i in range(w["spec"]["replicas"])]
    labels += [lab for d in docs(name) for lab in operator_made.pods(d)]
    for svc in by_kind(name, "Service").values():
        sel = svc["spec"]["selector"]
        assert any(sel.items() <= lab.items() for lab in labels), svc["metadata"]["name"]


@pytest.mark.parametrize("name", STACKS)
def test_workload_selectors_match_their_template(name):
    for wl, tpl in pod_templates(name):
        sel = wl["spec"].get("selector", {}).get("matchLabels")
        if wl["kind"] not in ("Job", "CronJob"):
            assert sel and sel.items() <= tpl["metadata"]["labels"].items(), wl["metadata"]["name"]


def _refs(spec: dict):
    """(kind, name) of every ConfigMap/Secret/ServiceAccount/PVC a pod spec references."""
    if spec.get("serviceAccountName"):
        yield "ServiceAccount", spec["serviceAccountName"]
    for vol in spec.get("volumes", []):
        if "configMap" in vol:
            yield "ConfigMap", vol["configMap"]["name"]
        if "secret" in vol:
            yield "Secret", vol["secret"]["secretName"]
        if "persistentVolumeClaim" in vol:
            yield "PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"]
        for src in vol.get("projected", {}).get("sources", []):
            for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if key in src:
                    yield kind, src[key]["name"]
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for env in c.get("env", []):
            ref = env.get("valueFrom", {})
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"]
        for src in c.get("envFrom", []):
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in src:
                    yield kind, src[key]["name"]


def team_objects(s) -> set[tuple[str, str]]:
    """What the stack says the team provides (its app's Secrets and ConfigMaps)."""
    procs = [s.api, *s.api.workers]
    out = {("Secret", ref.secret) for p in procs for ref in p.secret_env.values()}
    out |= {("Secret", e.secret) if e.secret else ("ConfigMap", e.config_map)
            for p in procs for e in p.env_from}
    if s.postgres.external:  # the managed database's password
        out.add(("Secret", s.postgres.external.password_secret))
    out |= {("Secret", r.secret) for r in s.monitoring.alerting.receivers}
    if s.has("redis") and s.redis.external:  # the managed Redis's password
        out.add(("Secret", s.redis.external.password_secret))
    if s.has("redis") and s.redis.backup:  # the object store's access key
        out.add(("Secret", s.redis.backup.store.credentials_secret))
    return out


@pytest.mark.parametrize("name", STACKS)
def test_references_exist(name):
    claims = {t["metadata"]["name"] for wl, _ in pod_templates(name)
              for t in wl["spec"].get("volumeClaimTemplates", [])}
    team = team_objects(stack(name))
    # the team's objects are not rendered (phasestack would overwrite them)
    assert not {(d["kind"], d["metadata"]["name"]) for d in docs(name)} & team
    for wl, tpl in pod_templates(name):
        for ref in _refs(tpl["spec"]):
            kind, obj = ref[0], ref[1]
            if kind == "PersistentVolumeClaim" and obj in claims or (kind, obj) in team:
                continue
            found = by_kind(name, kind)
            assert obj in found, f"{wl['metadata']['name']} references missing {kind} {obj}"
            if len(ref) == 3:
                data = {**found[obj].get("data", {}), **found[obj].get("stringData", {})}
                assert ref[2] in data, f"{kind} {obj} has no key {ref[2]}"


@pytest.mark.parametrize("name", STACKS)
def test_hpa_and_pdb_targets_exist(name):
    workloads = {(d["kind"], d["metadata"]["name"]) for d in docs(name)}
    for h in by_kind(name, "HorizontalPodAutoscaler").values():
        ref = h["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) in workloads
    labels = [t["metadata"]["labels"] for _, t in pod_templates(name)]
    # an HPA-managed Deployment leaves replicas out: the HPA's minReplicas is its fewest pods
    floor = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
             for h in by_kind(name, "HorizontalPodAutoscaler").values()}
    replicas = {n: d["spec"].get("replicas", floor.get(n, 1))
                for d, _ in pod_templates(name) for n in [d["metadata"]["name"]]}
    for p in by_kind(name, "PodDisruptionBudget").values():
        sel = p["spec"]["selector"]["matchLabels"]
        assert any(sel.items() <= lab.items() for lab in labels), p["metadata"]["name"]
        assert replicas.get(p["metadata"]["name"], 2) >= 2, p["metadata"]["name"]


@pytest.mark.parametrize("name", PREFIXED)
def test_a_named_instance_prefixes_every_name_and_label(name):
    for d in docs(name):
        if d["kind"] == "Namespace":
            continue
        md = d["metadata"]
        assert md["name"].startswith(PREFIX), (d["kind"], md["name"])
        assert md["labels"]["app.kubernetes.io/name"].startswith(PREFIX), md["name"]
        assert md["labels"]["app.kubernetes.io/instance"] == PREFIX[:-1], md["name"]


def test_a_stack_has_no_instance_label():
    assert not any("app.kubernetes.io/instance" in d["metadata"].get("labels", {})
                   for d in docs("phase3"))


# <service>.<ns>.svc.cluster.local or <pod>-<n>.<headless service>.<ns>.svc.cluster.local
HOST = re.compile(r"(?<![a-z0-9.])(?<![a-z0-9]-)([a-z0-9][a-z0-9-]*)(?:-\d+\.([a-z0-9-]+))?"
                  r"\.([a-z0-9-]+)\.svc\.cluster\.local")


@pytest.mark.parametrize("name", STACKS)
def test_wired_hosts_are_services_of_the_render(name):
    services = set(by_kind(name, "Service")) | {
        svc for d in docs(name) for svc in operator_made.services(d)}
    ns = stack(name).namespace
    texts = [str(t["spec"]) for _, t in pod_templates(name)]
    texts += [str(c.get("data", {})) for c in by_kind(name, "ConfigMap").values()]
    hosts = 0
    for text in texts:
        for m in HOST.finditer(text):
            first, headless, host_ns = m.groups()
            if (first, host_ns) == ("kube-dns", "kube-system"):
                continue  # nginx's resolver: the cluster DNS, allowed by allow-dns
            assert host_ns == ns, m.group(0)
            # redis-0.redis-headless.<ns>... is a pod of a headless Service
            assert (headless or first) in services, m.group(0)
            hosts += 1
    assert hosts > 0


def _selects(sel: dict, labels: dict) -> bool:
    return sel.get("matchLabels", {}).items() <= labels.items()


def _permits(policies: list[dict], kind: str, pod: dict, peer: dict, port: int) -> bool:
    """Some policy of `kind` (Ingress/Egress) selecting `pod` lets it talk to `peer` on port.
    Cross-namespace peers (the DNS rule) never match a pod of the stack."""
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    return any(
        any(pt["port"] == port for pt in rule.get("ports", []))
        and (peers_key not in rule or any(_selects(x.get("podSelector", {}), peer)
                                          for x in rule[peers_key]
                                          if "namespaceSelector" not in x and "ipBlock" not in x))
        for p in policies if kind in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], pod)
        for rule in p["spec"].get(rules_key, []))


def _allowed(policies: list[dict], src: dict, dst: dict, port: int) -> bool:
    return (_permits(policies, "Egress", src, dst, port)
            and _permits(policies, "Ingress", dst, src, port))


@pytest.mark.parametrize("name", STACKS)
def test_network_policies_allow_every_flow_and_deny_by_default(name):
    s = stack(name)
    policies = list(by_kind(name, "NetworkPolicy").values())
    deny = by_kind(name, "NetworkPolicy")[f"{s.prefix}default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # pods by base name (flows name pods by base name; the prefix is the instance's)
    pods = {t["metadata"]["labels"]["app.kubernetes.io/name"].removeprefix(s.prefix):
            t["metadata"]["labels"] for _, t in pod_templates(name)}
    pods |= {lab["app.kubernetes.io/name"].removeprefix(s.prefix): lab
             for d in docs(name) for lab in operator_made.pods(d)}
    flows = synth_flows(s)
    assert flows
    for f in flows:
        if f.src.startswith("namespace:"):  # an ingress controller's namespace, as a whole
            ns = f.src.removeprefix("namespace:")
            assert any(p["spec"]["podSelector"] == {"matchLabels": {
                "app.kubernetes.io/name": f"{s.prefix}{f.dst}"}} and any(
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                in rule.get("from", []) and {"protocol": "TCP", "port": f.port} in rule["ports"]
                for rule in p["spec"].get("ingress", [])) for p in policies), f
            continue
        if "*" in (f.src, f.dst):
            continue
        assert f.src in pods and f.dst in pods, f
        assert _allowed(policies, pods[f.src], pods[f.dst], f.port), f
    # what the topology needs, written down here independently of what the modules declare
    for src, dst, port in required_flows(s):
        assert src in pods and dst in pods, (src, dst)
        assert _allowed(policies, pods[src], pods[dst], port), (src, dst, port)
    if s.runs("nginx") and s.runs("postgres"):
        assert not _allowed(policies, pods["nginx"], pods["postgres"], 5432)
    if s.runs("postgres") and s.pgbouncer.enabled:
        assert not _allowed(policies, pods["api"], pods["postgres"], 5432)


def required_flows(s) -> list[tuple[str, str, int]]:
    """Pod to pod; a managed PostgreSQL is outside (its egress: test_synth_network)."""
    clients = ["api", *(f"worker-{w.name}" for w in s.api.workers)]
    inside = s.postgres.external is None
    db = [("pgbouncer", 6432)] if s.pgbouncer.enabled else [("postgres", 5432)] * inside
    need = [("nginx", "api", s.api.port)] if s.has("nginx") else []
    need += [(c, *d) for c in clients for d in db]
    redis_inside = s.runs("redis")  # a managed Redis is outside too
    need += [(c, "redis", 6379) for c in clients] if redis_inside else []
    if s.api.migration.enabled:
        need += [("api-migrate", "postgres", 5432)] * inside + \
            [("api-migrate", "redis", 6379)] * redis_inside
    if s.pgbouncer.enabled and inside:
        need.append(("pgbouncer", "postgres", 5432))
    cnpg = s.postgres.engine == "cloudnativepg" and inside
    if s.postgres.read_replicas and not cnpg:
        need.append(("postgres-replica", "postgres", 5432))
        if s.pgbouncer.enabled:
            need.append(("pgbouncer", "postgres-replica", 5432))
    if cnpg:  # every instance may be the primary: they stream from each other
        need += [("postgres", "postgres", 5432), ("postgres", "postgres", 8000)]
    if s.has("redis") and s.redis.mode == "cluster":
        need += [("redis", "redis", 6379), ("redis", "redis", 16379),
                 ("redis-cluster-bootstrap", "redis", 6379)]
    if s.monitoring.prometheus:
        need += [("prometheus", "api", s.api.metrics_port)] * s.api.metrics.enabled
        need += [("prometheus", "nginx", 9113)] * s.has("nginx")
        need += [("prometheus", "redis", 9121)] * redis_inside
        need += [("prometheus", "postgres", 9187)] * inside
        if s.pgbouncer.enabled:
            need.append(("prometheus", "pgbouncer", 9127))
        if s.postgres.read_replicas and not cnpg:
            need.append(("prometheus", "postgres-replica", 9187))
    if s.monitoring.grafana:
        need.append(("grafana", "prometheus", 9090))
    return need


@pytest.mark.parametrize("name", STACKS)
def test_secure_defaults(name):
    # only a ServiceAccount that a (Cluster)RoleBinding grants something may mount its token
    bound = {s["name"] for kind in ("RoleBinding", "ClusterRoleBinding")
             for rb in by_kind(name, kind).values() for s in rb["subjects"]}
    for wl, tpl in pod_templates(name):
        spec = tpl["spec"]
        assert spec["automountServiceAccountToken"] is (spec.get("serviceAccountName") in bound)
        assert spec["securityContext"]["runAsNonRoot"] is True
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            where = f"{wl['metadata']['name']}/{c['name']}"
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert {"requests", "limits"} <= c["resources"].keys(), where
            if c in spec["containers"] and wl["kind"] not in ("Job", "CronJob"):
                assert "livenessProbe" in c and "readinessProbe" in c, where



@pytest.mark.parametrize("version", VERSIONS)
def test_components_on_their_own_pass_the_official_schema_strict(version):
    instances = component_instances()
    assert set(instances) == {"sessions", "orders", "orders-pool", "shop", "shop-entry", "obs"}
    for name, manifests in instances.items():
        assert manifests, name
        for doc in manifests:
            assert doc["metadata"]["name"].startswith(f"{name}-"), (name, doc["metadata"])
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except (kubernetes_validate.ValidationError,
                    kubernetes_validate.SchemaNotFoundError) as e:
                pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']} on {version}: {e}")
