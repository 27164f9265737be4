"""A phase migration on ONE Pulumi stack: phase1's config, then phase2's, then phase3's, each
previewed and applied by the real engine. Data and identity must survive every step."""

from __future__ import annotations

from deploy import credentials, stack_file_config
from pulumi import automation as auto

NAMESPACE = "ps-migration"
# never deleted or replaced on the way up: the data, who the cluster is, and the credentials
# clients hold (a replaced Secret would first be deleted: DNS and logins break meanwhile)
KEEP = ("kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:PersistentVolumeClaim")
KEEP_STATEFULSET = "postgres"  # the primary's StatefulSet owns its volume claim
DESTRUCTIVE = {"delete", "replace", "create-replacement", "delete-replaced", "discard"}
# the only resources a phase step may replace, and why
EXPECTED_REPLACEMENTS = {
    # a Job's pod template is immutable: a bigger Cluster (phase3's 6 masters) is a new
    # bootstrap run, which adds the new masters and rebalances slots (transitions/redis_cluster.py)
    f"job/{NAMESPACE}/redis-cluster-bootstrap",
}


def steps(events: list[auto.EngineEvent]) -> list[tuple[str, str, str]]:
    """(op, type, name) of every resource step a preview plans."""
    out = []
    for event in events:
        pre = event.resource_pre_event
        if pre is not None:
            md = pre.metadata
            out.append((md.op.value if hasattr(md.op, "value") else str(md.op), md.type,
                        md.urn.split("::")[-1]))
    return out


def test_phase1_to_phase2_to_phase3_keeps_data_identity_and_credentials(deployer, cluster, cnpg):
    """phase2 moves PostgreSQL to a CloudNativePG Cluster that copies the StatefulSet primary,
    which stays (its StatefulSet and claim are kept)."""
    cnpg.ensure()  # the operator's webhooks answer the Cluster's create
    creds = credentials()
    st = None
    seen: dict[str, list[tuple[str, str, str]]] = {}
    for phase in ("phase1", "phase2", "phase3"):
        config = {**stack_file_config(phase), "phasestack:namespace": NAMESPACE}
        if st is None:
            st = deployer.stack("e2e-migration", config, creds)
        else:
            deployer.configure(st, config, creds)
        events: list[auto.EngineEvent] = []
        st.preview(on_event=events.append, on_output=deployer.output, color="never")
        planned = steps(events)
        seen[phase] = planned
        destructive = [(op, t, n) for op, t, n in planned if op in DESTRUCTIVE]
        assert [s for s in destructive if s[1] in KEEP] == [], phase
        assert [s for s in destructive if s[1] == "kubernetes:apps/v1:StatefulSet"
                and s[2].endswith(f"/{KEEP_STATEFULSET}")] == [], phase
        assert {n for _, _, n in destructive} <= EXPECTED_REPLACEMENTS, (phase, destructive)
        up = st.up(on_output=deployer.output, color="never")
        assert up.summary.result == "succeeded", phase
        assert up.outputs["phase"].value == phase
    # each step changed the running topology in place: ConfigMaps too (mutable ConfigMaps;
    # the pods roll on their config-hash annotation)
    for phase in ("phase2", "phase3"):
        updated = {(t, n) for op, t, n in seen[phase] if op == "update"}
        assert any(t == "kubernetes:core/v1:ConfigMap" for t, _ in updated), phase
    claims = cluster.get("pvc", NAMESPACE)
    assert any(c["metadata"]["name"].startswith("data-postgres-0") for c in claims)
    # the Cluster was created as a copy of the StatefulSet primary, and is healthy
    pg = cluster.get("clusters.postgresql.cnpg.io", NAMESPACE)
    assert [c["spec"]["bootstrap"]["initdb"]["import"]["source"] for c in pg] == [
        {"externalCluster": "statefulset"}]
    # phase3's standbys join after `up` (Pulumi waited for Ready at creation only)
    cluster.wait_for(lambda: cluster.get("clusters.postgresql.cnpg.io", NAMESPACE)[0].get(
        "status", {}).get("phase") == "Cluster in healthy state", "the Cluster healthy",
        timeout=300)
    st.destroy(on_output=deployer.output, color="never")
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    cluster.wait_gone(NAMESPACE)
    st.workspace.remove_stack(st.name)
