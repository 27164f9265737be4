"""Run the Pulumi program (__main__.py) under the SDK's mocks and capture what it registers.

No Pulumi CLI, plugins or cluster exist here (DESIGN.md "Facts"): the mocks stand in for the
engine. Pitfalls handled here: set_mocks per run with the root resource reset first, config via
set_all_config as strings, RandomPassword's `result` supplied by the mock and marked secret the
way the engine marks additionalSecretOutputs, and secret inputs arriving wrapped in the RPC
secret signature (so a test can tell a secret input from a plain one).
"""

from __future__ import annotations

import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.sync_await import _sync_await

from phasestack import stackfile

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
IMAGE_TYPE = "docker:index/remoteImage:RemoteImage"


def fake_password(name: str) -> str:
    """32 alphanumerics, distinct per resource, easy to search for in captured inputs."""
    return ("mockpw" + hashlib.sha256(name.encode()).hexdigest())[:32]


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict
    provider: str | None
    custom: bool


class Recorder(pulumi.runtime.Mocks):
    def __init__(self, engine_secrets: bool = True):
        self.engine_secrets = engine_secrets
        self.resources: list[Registered] = []
        self.passwords: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(Registered(args.typ, args.name, args.inputs, args.provider,
                                         bool(args.custom)))
        state = dict(args.inputs)
        if args.typ == PASSWORD_TYPE:
            value = fake_password(args.name)
            self.passwords[args.name] = value
            # the engine marks RandomPassword's additionalSecretOutputs ("result") secret
            state["result"] = rpc.wrap_rpc_secret(value) if self.engine_secrets else value
        if args.typ == IMAGE_TYPE:
            state["imageId"] = f"{args.inputs['name']}@sha256:mock"  # the engine pulls it
        return f"{args.name}_id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, None


class Monitor(MockMonitor):
    """The SDK's mock monitor, also keeping each resource's parent and registered outputs."""

    def __init__(self, mocks: Recorder):
        super().__init__(mocks)
        self.parents: dict[str, str] = {}
        self.outputs: dict[str, dict] = {}
        self.retained: set[str] = set()  # URNs registered with retainOnDelete
        self.aliases: dict[str, list] = {}  # URN -> the aliases it was registered with
        self.urns: list[str] = []  # every registration, in order (a URN twice is an error)
        self.dependencies: dict[str, list[str]] = {}  # URN -> the URNs it waits for

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        self.parents[response.urn] = request.parent
        self.urns.append(response.urn)
        if request.retainOnDelete:
            self.retained.add(response.urn)
        self.aliases[response.urn] = [*request.aliases, *request.aliasURNs]
        self.dependencies[response.urn] = list(request.dependencies)
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802
        self.outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


@dataclass
class Run:
    mocks: Recorder
    monitor: Monitor
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    @property
    def resources(self) -> list[Registered]:
        return self.mocks.resources

    def of_type(self, prefix: str) -> list[Registered]:
        return [r for r in self.resources if r.type.startswith(prefix)]

    def component(self, type_: str) -> dict:
        """Outputs a ComponentResource of this type registered (exactly one must exist)."""
        urns = [u for u in self.monitor.outputs if u.split("::")[-2].endswith(type_)]
        assert len(urns) == 1, (type_, urns)
        return self.monitor.outputs[urns[0]]

    def component_named(self, type_: str, name: str) -> dict:
        """Outputs of the ComponentResource of this type and name."""
        (urn,) = [u for u in self.monitor.outputs
                  if u.split("::")[-2].endswith(type_) and u.endswith(f"::{name}")]
        return self.monitor.outputs[urn]

    def parent_type(self, res: Registered) -> str:
        """Type token of the resource's parent, e.g. phasestack:index:Redis."""
        urn = next(u for u in self.monitor.parents
                   if u.endswith(f"::{res.name}") and u.split("::")[-2].endswith(res.type))
        return self.monitor.parents[urn].split("::")[-2].split("$")[-1]

    def kube(self) -> list[Registered]:
        return [r for r in self.resources if r.type.startswith("kubernetes:")
                and not r.type.startswith("pulumi:providers")]


def stack_config(path: Path) -> dict[str, str]:
    """A stack file's config as the engine hands it to a program: every value a string."""
    raw = yaml.safe_load(path.read_text()) or {}
    out = {}
    for key, value in (raw.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue  # ciphertext; tests supply secret values explicitly
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def run_program(stack: str, config: dict[str, str] | None = None, engine_secrets: bool = True,
                stacks_root: Path = ROOT, plain_keys: frozenset[str] = frozenset(),
                main: Path = ROOT / "__main__.py", mocks: Recorder | None = None) -> Run:
    """Run `main` (the project's __main__.py) for `stack` with
    stacks_root/stacks/Pulumi.<stack>.yaml, if there is one; capture it. Credential keys in
    `config` arrive as `pulumi config set --secret` would set them, unless named in
    `plain_keys` (set without --secret)."""
    mocks = mocks or Recorder(engine_secrets)
    pulumi_settings.ROOT.set(None)  # a fresh root Stack resource per run
    monitor = Monitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=main.parent.name if main.parent != ROOT
                             else "phasestack", stack=stack, preview=False, monitor=monitor)
    file = stacks_root / "stacks" / f"Pulumi.{stack}.yaml"
    all_config = {**(stack_config(file) if file.is_file() else {}), **(config or {})}
    # a named instance's credential keys too (phasestack:sessions-redisPassword)
    secret_keys = [k for k in all_config
                   if k.partition(":")[2].rsplit("-", 1)[-1] in stackfile.SECRET_KEYS
                   and k not in plain_keys]
    pulumi.runtime.set_all_config(all_config, secret_keys)
    run = Run(mocks, monitor)

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(main), run_name="__main__")

    program()
    root = pulumi_settings.get_root_resource()
    for key, value in root.outputs.items():
        out = pulumi.Output.from_input(value)
        run.exports[key] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            run.secret_exports.add(key)
    return run


@pytest.fixture
def program(monkeypatch):
    """run_program with cwd at the project root, as the Pulumi CLI runs it."""
    monkeypatch.chdir(ROOT)
    return run_program


@pytest.fixture
def harness():
    """This module's helpers, for tests (importing `conftest` by name is ambiguous: there is
    one per test directory)."""
    return SimpleNamespace(run_program=run_program, fake_password=fake_password,
                           PASSWORD_TYPE=PASSWORD_TYPE, ROOT=ROOT, stack_config=stack_config)
