"""The e2e toolchain's pins (toolchain/versions.env) and the SDK pins of pyproject.toml agree:
the Python SDKs talk to exactly the engine and plugin `make toolchain` builds."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "toolchain" / "versions.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def dependencies() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        m = re.fullmatch(r"([a-z0-9-]+)(.*)", dep)
        out[m.group(1)] = m.group(2)
    return out


def test_sdk_pins_match_the_built_engine_and_plugin():
    p, d = pins(), dependencies()
    assert d["pulumi"] == f"=={p['PULUMI_VERSION']}"
    assert d["pulumi-kubernetes"] == f"=={p['PULUMI_KUBERNETES_VERSION']}"
    assert d["pulumi-random"].startswith("==")  # exact too (its plugin: docs/e2e.md)


def test_pins_are_exact_versions():
    for key, value in pins().items():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+(-[0-9]{14}-[0-9a-f]{12})?", value), key


def test_build_script_is_valid_bash_and_keys_its_cache_on_the_pins():
    script = (ROOT / "toolchain" / "build.sh").read_text()
    subprocess.run(["bash", "-n", str(ROOT / "toolchain" / "build.sh")], check=True)
    assert 'sha256sum < "$here/versions.env"' in script
    # every binary tests/e2e needs is built
    for binary in ("pulumi", "pulumi-resource-kubernetes", "kube-apiserver",
                   "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok",
                   "kwokctl"):
        assert binary in script, binary
