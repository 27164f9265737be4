"""e2e: the Pulumi program applied by a real Pulumi engine to a real Kubernetes API server.

`make e2e` builds (or finds) the toolchain and points PHASESTACK_TOOLCHAIN_BIN at it; without it
the binaries come from PATH (the official pulumi and kwok installers). Under CI=true a missing
toolchain fails the run instead of skipping it.

The program is components/program.py's `main`, the function `__main__.py` runs, driven through
the Automation API as an inline program: its Python language host runs in this process, so no
`pulumi-language-python` binary is needed (the Go module proxy does not serve that module).
The engine, the kubernetes provider plugin and the API server are real. Credentials are set
with `pulumi config set --secret` equivalents (the random provider plugin is not on the proxy
either; docs/e2e.md).
"""

from __future__ import annotations

import os
import shutil

import pytest
from cluster import Cluster, ToolchainMissing, find_binaries
from deploy import Deployer, command, pins

# A test-only passphrase for the throwaway file backend's secrets provider.
TEST_PASSPHRASE = "phasestack-e2e-throwaway-state"


@pytest.fixture(scope="session")
def tools() -> dict[str, str]:
    try:
        return find_binaries(os.environ.get("PHASESTACK_TOOLCHAIN_BIN"))
    except ToolchainMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"e2e toolchain missing under CI=true: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def cluster(tools, tmp_path_factory):
    c = Cluster("phasestack-e2e", tmp_path_factory.mktemp("kwok"), tools)
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def pulumi_env(tools, cluster, tmp_path_factory) -> dict[str, str]:
    """An isolated PULUMI_HOME holding exactly the pinned kubernetes plugin, a file backend,
    and plugin downloads turned into errors."""
    home = tmp_path_factory.mktemp("pulumi-home")
    state = tmp_path_factory.mktemp("pulumi-state")
    env = {"PULUMI_HOME": str(home), "PULUMI_BACKEND_URL": f"file://{state}",
           "PULUMI_CONFIG_PASSPHRASE": TEST_PASSPHRASE,
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
           "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
           "KUBECONFIG": str(cluster.kubeconfig)}
    cmd = command(tools)
    cmd.run(["plugin", "install", "resource", "kubernetes", pins()["PULUMI_KUBERNETES_VERSION"],
             "--file", tools["pulumi-resource-kubernetes"]], str(home), {**os.environ, **env})
    return env


@pytest.fixture(scope="session")
def cnpg(tools, cluster, tmp_path_factory):
    """The CloudNativePG operator answering the e2e cluster (cnpg_operator.py) and its
    instances' status endpoints (instance_managers.py), for the session; the manifest is
    applied first (a stack's `pulumi up` applies the same objects again, unchanged), so its
    webhooks answer before the first Cluster is created."""
    import cnpg_operator
    from instance_managers import InstanceManagers

    from phasestack.synth import cnpg_operator as manifest

    try:
        cnpg_operator.check_host()
        bin_dir = cnpg_operator.binary_dir()
    except cnpg_operator.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CloudNativePG operator unavailable under CI=true: {exc}")
        pytest.skip(str(exc))
    cnpg_operator.route_pod_cidr()
    operator = cnpg_operator.HostOperator(cluster, bin_dir, tmp_path_factory.mktemp("cnpg"),
                                          manifest.manifest_text())
    managers = InstanceManagers([tools["kubectl"], "--kubeconfig", str(cluster.kubeconfig),
                                 "--context", cluster.context], f"{bin_dir}/manager")
    try:
        operator.start()
        operator.ensure()
        managers.start()
        yield operator
    finally:
        managers.stop()
        operator.stop()
        cnpg_operator.unroute_pod_cidr()


@pytest.fixture
def deployer(tools, cluster, pulumi_env, tmp_path):
    cluster.provide_volumes()
    d = Deployer(tools, cluster, pulumi_env, tmp_path / "work")
    yield d
    if d.log.exists():
        shutil.copy(d.log, tmp_path / "pulumi-output.log")
