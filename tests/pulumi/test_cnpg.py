"""A Postgres with engine: cloudnativepg under mocks: the operator from its vendored release
manifest, then the Cluster and its ScheduledBackup as custom resources that wait for it, the
basic-auth Secret of the app role, and outputs naming the operator's -rw/-ro Services."""

from __future__ import annotations

import pulumi
from test_program import normalise

from phasestack.model import PostgresArgs
from phasestack.synth import cnpg_operator

BACKUP = {"store": {"destination": "s3://backups/orders", "credentials_secret": "s3-creds"}}
CR = "kubernetes:postgresql.cnpg.io/v1"


def _orders(install_operator: bool = True):
    from phasestack.components.postgres import Postgres

    Postgres("orders", PostgresArgs(
        namespace="shop", engine="cloudnativepg", read_replicas=2, backup=BACKUP,
        cloudnativepg={"install_operator": install_operator}), pulumi.ResourceOptions())


def _run(harness, tmp_path, install_operator: bool = True):
    main = tmp_path / "cnpg" / "__main__.py"
    main.parent.mkdir()
    main.write_text(f"from test_cnpg import _orders\n_orders({install_operator})\n")
    return harness.run_program("dev", main=main)


def test_the_operator_then_the_cluster_that_waits_for_it(harness, tmp_path):
    run = _run(harness, tmp_path)
    (cluster,) = run.of_type(f"{CR}:Cluster")
    (backup,) = run.of_type(f"{CR}:ScheduledBackup")
    assert cluster.inputs["metadata"]["name"] == "orders-postgres"
    assert cluster.inputs["spec"]["instances"] == 3
    initdb = cluster.inputs["spec"]["bootstrap"]["initdb"]
    assert initdb["secret"] == {"name": "orders-postgres-app"}
    assert backup.inputs["spec"]["cluster"] == {"name": "orders-postgres"}
    # every object of the release manifest, as the operator's children
    operator = [r for r in run.resources if run.parent_type(r).endswith(":CloudNativePGOperator")]
    expected = sorted((d["kind"], d["metadata"]["name"]) for d in cnpg_operator.manifests())
    assert sorted((r.type.split(":")[-1], r.inputs["metadata"]["name"]) for r in operator) \
        == expected
    crds = [r for r in operator if r.type.endswith(":CustomResourceDefinition")]
    assert "clusters.postgresql.cnpg.io" in {r.inputs["metadata"]["name"] for r in crds}
    # the Cluster waits for the operator's CRDs and Deployment (its webhooks)
    urn = next(u for u in run.monitor.urns if u.endswith("::cluster/shop/orders-postgres"))
    deps = run.monitor.dependencies[urn]
    assert any(d.endswith("::deployment/cnpg-system/cnpg-controller-manager") for d in deps)
    assert any(d.endswith("::customresourcedefinition/clusters.postgresql.cnpg.io")
               for d in deps)
    out = normalise(run.component_named("Postgres", "orders"))
    assert out["host"] == "orders-postgres-rw.shop.svc.cluster.local"
    assert out["read_host"] == "orders-postgres-ro.shop.svc.cluster.local"
    assert out["url"].endswith("@orders-postgres-rw.shop.svc.cluster.local:5432/app")
    assert normalise(run.component("CloudNativePGOperator"))["version"] == "1.30.1"


def test_the_app_role_secret_is_basic_auth_with_the_generated_password(harness, tmp_path):
    run = _run(harness, tmp_path)
    (secret,) = [r for r in run.of_type("kubernetes:core/v1:Secret")
                 if r.inputs["metadata"]["name"] == "orders-postgres-app"]
    assert secret.inputs["type"] == "kubernetes.io/basic-auth"
    data = normalise(secret.inputs["stringData"])
    assert data["username"] == "app"
    assert data["password"] == run.mocks.passwords["orders-apppassword"]


def test_install_operator_false_uses_the_clusters_operator(harness, tmp_path):
    run = _run(harness, tmp_path, install_operator=False)
    assert not [r for r in run.resources if r.type.endswith(":CustomResourceDefinition")]
    assert len(run.of_type(f"{CR}:Cluster")) == 1


def test_crds_are_never_deleted_the_cluster_is_kept_and_the_operator_takes_over(harness,
                                                                               tmp_path):
    run = _run(harness, tmp_path)
    urns = {u.rsplit("::", 1)[-1]: u for u in run.monitor.urns}
    # a CRD's deletion would delete every Cluster in the cluster: always forgotten instead
    crds = [u for n, u in urns.items() if n.startswith("customresourcedefinition/")]
    assert crds and all(u in run.monitor.retained for u in crds)
    # the Cluster owns its claims: kept like them (retain_data, the default)
    assert urns["cluster/shop/orders-postgres"] in run.monitor.retained
    assert urns["deployment/cnpg-system/cnpg-controller-manager"] not in run.monitor.retained
    # server-side apply takes over an operator installed with kubectl (render's prerequisite)
    operator = [r for r in run.resources if run.parent_type(r).endswith(":CloudNativePGOperator")]
    assert all(normalise(r.inputs["metadata"])["annotations"]["pulumi.com/patchForce"] == "true"
               for r in operator)
