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
import secrets
import shutil
from pathlib import Path

import pytest
import yaml
from cluster import Cluster, ToolchainMissing, find_binaries
from pulumi import automation as auto

from components import program
from phasestack import stackfile

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_PLUGIN_VERSION = "4.25.0"  # = pyproject's pulumi-kubernetes pin
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
    cmd = _command(tools)
    cmd.run(["plugin", "install", "resource", "kubernetes", KUBERNETES_PLUGIN_VERSION,
             "--file", tools["pulumi-resource-kubernetes"]], str(home), {**os.environ, **env})
    return env


def _command(tools) -> auto.PulumiCommand:
    # PulumiCommand runs <root>/bin/pulumi
    root = Path(tools["pulumi"]).parent.parent
    return auto.PulumiCommand(root=str(root), skip_version_check=True)


def credentials() -> dict[str, str]:
    """Fresh URL-safe credentials, as `pulumi config set --secret` would hold them."""
    return {key: secrets.token_urlsafe(24) for key in sorted(stackfile.SECRET_KEYS)}


class Deployer:
    """A Pulumi stack of the phasestack program in a scratch work dir, on the e2e cluster."""

    def __init__(self, tools, cluster: Cluster, env: dict[str, str], workdir: Path):
        self.tools, self.cluster, self.env, self.workdir = tools, cluster, env, workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "Pulumi.yaml").write_text(
            yaml.safe_dump({"name": "phasestack", "runtime": "python"}))
        self.log = self.workdir / "pulumi.log"

    def stack(self, name: str, config: dict, creds: dict[str, str]) -> auto.Stack:
        """Create (or select) Pulumi stack `name` with a stack file's config, pointed at the
        e2e cluster, credentials set as secrets."""
        st = auto.create_or_select_stack(
            stack_name=name, project_name="phasestack", program=program.main,
            opts=auto.LocalWorkspaceOptions(work_dir=str(self.workdir), env_vars=self.env,
                                            pulumi_home=self.env["PULUMI_HOME"],
                                            pulumi_command=_command(self.tools)))
        self.configure(st, config, creds)
        return st

    def configure(self, st: auto.Stack, config: dict, creds: dict[str, str]) -> None:
        values = {k: auto.ConfigValue(_config_text(v)) for k, v in config.items()}
        values["phasestack:kube_context"] = auto.ConfigValue(self.cluster.context)
        for key, value in creds.items():
            values[f"phasestack:{key}"] = auto.ConfigValue(value, secret=True)
        for key in st.get_all_config():
            if key not in values:
                st.remove_config(key)
        st.set_all_config(values)

    def output(self, line: str) -> None:
        with self.log.open("a") as fh:
            fh.write(line + "\n")


def _config_text(value) -> str:
    """A stack file value as Pulumi config holds it (objects as JSON, bools lower-case)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def stack_file_config(name: str) -> dict:
    raw = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return {k: v for k, v in raw["config"].items() if k.partition(":")[2] not in
            stackfile.SECRET_KEYS}


@pytest.fixture
def deployer(tools, cluster, pulumi_env, tmp_path):
    cluster.provide_volumes()
    d = Deployer(tools, cluster, pulumi_env, tmp_path / "work")
    yield d
    if d.log.exists():
        shutil.copy(d.log, tmp_path / "pulumi-output.log")
