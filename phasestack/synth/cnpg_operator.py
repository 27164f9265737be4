"""The CloudNativePG operator's release manifest, vendored (phasestack/vendor/cnpg-<v>.yaml.gz,
which toolchain/cnpg.sh checks byte for byte against the operator's Go module): the objects the
Pulumi program applies for postgres.engine: cloudnativepg, and the CRD schemas the tests
validate our Clusters against. Pure: reads a package file, never pulumi.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import yaml

from phasestack.errors import PhasestackError
from phasestack.model.cnpg import OPERATOR_NAMESPACE, OPERATOR_VERSION
from phasestack.safe_yaml import FAST

FILE = f"cnpg-{OPERATOR_VERSION}.yaml.gz"
# sha256 of the uncompressed releases/cnpg-1.30.1.yaml of github.com/cloudnative-pg/cloudnative-pg
SHA256 = "37237f145d8138256ea25ae830f87759255665ff08f8d552fdd8224a5ec032fb"
IMAGE = f"ghcr.io/cloudnative-pg/cloudnative-pg:{OPERATOR_VERSION}"


def manifest_text() -> str:
    data = gzip.decompress(resources.files("phasestack.vendor").joinpath(FILE).read_bytes())
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise PhasestackError(f"phasestack/vendor/{FILE}: not CloudNativePG "
                              f"{OPERATOR_VERSION}'s release manifest (sha256 differs); "
                              "toolchain/cnpg.sh update writes it from the Go module")
    return data.decode()


# server-side apply takes the fields over from another field manager: an operator installed
# with `kubectl apply --server-side` (render's prerequisite) conflicts otherwise
FORCE = {"pulumi.com/patchForce": "true"}


def manifests() -> list[dict]:
    """The operator's objects in the manifest's order (Namespace and CRDs first), as the
    Pulumi program applies them (FORCE)."""
    docs = [d for d in yaml.load_all(manifest_text(), Loader=FAST) if d]
    for d in docs:
        d["metadata"]["annotations"] = {**d["metadata"].get("annotations", {}), **FORCE}
    image = {c["image"] for d in docs if d["kind"] == "Deployment"
             for c in d["spec"]["template"]["spec"]["containers"]}
    assert image == {IMAGE}, image  # the pin the model and docs state
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"} == \
        {OPERATOR_NAMESPACE}
    return docs


def crd_schemas(docs: list[dict] | None = None) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the CRD's openAPIV3Schema, for every served version."""
    out = {}
    for crd in docs if docs is not None else manifests():
        if crd["kind"] != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if v.get("served"):
                out[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return out


def prerequisites(stack) -> list[str]:
    """What the cluster must run before `kubectl apply` of a render (it never includes it)."""
    if stack.postgres.engine != "cloudnativepg" or not stack.runs("postgres"):
        return []
    return [f"the CloudNativePG operator {OPERATOR_VERSION} (namespace {OPERATOR_NAMESPACE}): "
            "`phasestack cnpg-operator | kubectl apply --server-side -f -` (its release "
            "manifest; the Pulumi program applies it itself unless "
            "postgres.cloudnativepg.install_operator is false)"]
