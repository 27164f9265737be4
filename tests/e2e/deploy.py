"""Helpers of the e2e tests (tests/e2e/conftest.py holds the fixtures): a Pulumi stack of the
phasestack program on the e2e cluster, fresh credentials, and what `phasestack render`
predicts."""

from __future__ import annotations

import glob
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml
from cluster import Cluster
from pulumi import automation as auto

from phasestack import stackfile
from phasestack.components import program

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    """toolchain/versions.env as a dict (the one place the toolchain's versions live)."""
    out = {}
    for line in (ROOT / "toolchain" / "versions.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def command(tools) -> auto.PulumiCommand:
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
                                            pulumi_command=command(self.tools)))
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
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def stack_file_config(name: str) -> dict:
    raw = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return {k: v for k, v in raw["config"].items() if k.partition(":")[2] not in
            stackfile.SECRET_KEYS}


def render(name: str, creds: dict[str, str], out: Path) -> list[dict]:
    """`phasestack render` (the CLI, as a user runs it) with the same credentials."""
    env = {**os.environ, **{f"PHASESTACK_{k.removesuffix('Password').upper()}_PASSWORD": v
                            for k, v in creds.items()}}
    cli = str(Path(sys.executable).parent / "phasestack")
    subprocess.run([cli, "render", name, "--out", str(out)], cwd=ROOT, env=env, check=True,
                   capture_output=True, text=True)
    docs = []
    for path in sorted(glob.glob(str(out / "*.yaml"))):
        docs += [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    return docs


def predicted_outputs(docs: list[dict], namespace: str, managed=None, cache=None) -> dict:
    """The stack outputs the rendered manifests imply: Service DNS names, ports, Secret names;
    `managed`: the stack's postgres.external, whose endpoints are the PostgreSQL outputs;
    `cache`: its redis.external, whose endpoint is the Redis output."""
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}

    def host(name):
        return f"{name}.{namespace}.svc.cluster.local"

    def port(name, port_name=None):
        ports = services[name]["spec"]["ports"]
        return next(p["port"] for p in ports if port_name in (None, p.get("name")))

    # a CloudNativePG Cluster: the operator's Services <cluster>-rw (-ro with standbys)
    cnpg = next((d for d in docs if d["kind"] == "Cluster"), None)
    primary = f"{cnpg['metadata']['name']}-rw" if cnpg else "postgres"
    app = "pgbouncer" if "pgbouncer" in services else primary
    # without nginx the API's Service is the entry (issue 14 item 7)
    entry = f"http://{host('nginx')}:{port('nginx', 'http')}" if "nginx" in services else \
        f"http://{host('api')}:{port('api')}"
    out = {"target": "kubernetes", "namespace": namespace, "endpoint": entry,
           "api_host": host("api"), "api_port": port("api"),
           **({"redis_host": host("redis"), "redis_port": port("redis", "redis")}
              if "redis" in services else {}),
           **({"redis_host": cache.host, "redis_port": cache.port} if cache else {}),
           **({"postgres_host": managed.host, "postgres_port": managed.port} if managed else
              {"postgres_host": host(primary), "postgres_port": 5432} if cnpg else
              {"postgres_host": host("postgres"), "postgres_port": port("postgres", "postgres")}),
           **({"database_host": managed.host, "database_port": managed.port}
              if managed and app == "postgres" else
              {"database_host": host(app), "database_port": 5432} if app == primary and cnpg
              else {"database_host": host(app), "database_port": port(app, app)}),
           "secret_names": sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Secret")}
    if "postgres-ro" in services or (cnpg and cnpg["spec"]["instances"] > 1):
        out["postgres_read_host"] = host("postgres-ro")
    if managed and managed.read_host:
        out["postgres_read_host"] = managed.read_host
    if "pgbouncer" in services:
        out["pgbouncer_host"] = host("pgbouncer")
    for name in ("prometheus", "grafana", "alertmanager"):
        if name in services:
            out[f"{name}_url"] = f"http://{host(name)}:{port(name)}"
    return out
