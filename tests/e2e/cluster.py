"""A throwaway Kubernetes cluster for the e2e tests: a real kube-apiserver, etcd,
kube-controller-manager and kube-scheduler, with nodes and pods simulated by kwok (kwokctl's
binary runtime: no container runs, no image is pulled).

Two things a cloud cluster has and kwok does not are stood in for here, deliberately small:
- storage: PersistentVolumes are created up front (no class, like a static provisioner) for
  kube-controller-manager's binder to bind the StatefulSets' claims to;
- a load-balancer controller: a thread gives each `LoadBalancer` Service an address from
  192.0.2.0/24 (TEST-NET-1), as a cloud controller would, so pulumi-kubernetes' real await
  for `status.loadBalancer.ingress` is exercised instead of skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# the binaries a kwokctl binary-runtime cluster needs (toolchain/build.sh builds them all)
BINARIES = ("kwokctl", "kwok", "etcd", "kube-apiserver", "kube-controller-manager",
            "kube-scheduler", "kubectl")
ZONES = ("zone-a", "zone-b", "zone-c")
PV_LABEL = "phasestack-e2e/pv"


class ToolchainMissing(Exception):
    pass


def find_binaries(bin_dir: str | None) -> dict[str, str]:
    """Each binary from `bin_dir` (toolchain/build.sh's output), else from PATH."""
    found, missing = {}, []
    for name in (*BINARIES, "pulumi", "pulumi-resource-kubernetes"):
        path = Path(bin_dir, name) if bin_dir else None
        if path is not None and os.access(path, os.X_OK):
            found[name] = str(path)
        elif shutil.which(name):
            found[name] = shutil.which(name)
        else:
            missing.append(name)
    if missing:
        raise ToolchainMissing(f"not found in {bin_dir or 'PATH'} or on PATH: "
                               f"{', '.join(missing)} (run `make toolchain`)")
    return found


def _node(i: int) -> dict:
    name = f"kwok-node-{i}"
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name,
                         "annotations": {"kwok.x-k8s.io/node": "fake",
                                         "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok",
                                    "topology.kubernetes.io/zone": ZONES[i % len(ZONES)]}},
            "status": {"allocatable": resources, "capacity": resources,
                       "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                                    "kubeletVersion": "fake", "kubeProxyVersion": "fake"}}}


def _volume(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": {PV_LABEL: "true"}},
            "spec": {"capacity": {"storage": "100Ti"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain",
                     "hostPath": {"path": f"/tmp/{name}"}}}


@dataclass
class Cluster:
    name: str
    workdir: Path
    tools: dict[str, str]
    nodes: int = 3
    kubeconfig: Path = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _lb: threading.Thread | None = field(default=None, init=False)
    _pv_serial: int = field(default=0, init=False)

    def __post_init__(self):
        self.kubeconfig = self.workdir / "kubeconfig"

    @property
    def context(self) -> str:
        return f"kwok-{self.name}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for kubectl, kwokctl and pulumi-kubernetes: only this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "KWOK_WORKDIR": str(self.workdir / "kwok")}

    def _config(self) -> Path:
        t = self.tools
        path = self.workdir / "kwokctl.yaml"
        path.write_text(yaml.safe_dump({
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokctlConfiguration",
            "options": {"runtime": "binary", "kubeApiserverBinary": t["kube-apiserver"],
                        "kubeControllerManagerBinary": t["kube-controller-manager"],
                        "kubeSchedulerBinary": t["kube-scheduler"], "kubectlBinary": t["kubectl"],
                        "kwokControllerBinary": t["kwok"], "etcdBinary": t["etcd"],
                        "quietPull": True},
            # webhooks are called at their Service's endpoints (no kube-proxy for ClusterIPs):
            # the CloudNativePG operator's, answered on this host (cnpg_operator.py)
            "componentsPatches": [{"name": "kube-apiserver", "extraArgs": [
                {"key": "enable-aggregator-routing", "value": "true"}]}]}))
        return path

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([self.tools["kwokctl"], "create", "cluster", "--name", self.name,
                        "--config", str(self._config()), "--kubeconfig", str(self.kubeconfig),
                        "--wait", "120s"], env=self.env, check=True, capture_output=True,
                       text=True, timeout=300)
        self.apply_docs([_node(i) for i in range(self.nodes)])
        self.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
        self._lb = threading.Thread(target=self._load_balancer_controller, daemon=True)
        self._lb.start()

    def stop(self) -> None:
        self._stop.set()
        if self._lb is not None:
            self._lb.join(timeout=10)
        subprocess.run([self.tools["kwokctl"], "delete", "cluster", "--name", self.name,
                        "--kubeconfig", str(self.kubeconfig)], env=self.env,
                       capture_output=True, timeout=120)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 180) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.tools["kubectl"], "--context", self.context, *args],
                              env=self.env, input=input, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def apply_docs(self, docs: list[dict]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def get(self, kind: str, namespace: str | None = None) -> list[dict]:
        args = ["get", kind, "-o", "json"] + (["-n", namespace] if namespace else [])
        return json.loads(self.kubectl(*args).stdout)["items"]

    def provide_volumes(self, count: int = 24) -> None:
        """Keep `count` unbound volumes: Retain leaves a released volume unusable, so those
        are removed (a claim that still exists keeps its Bound volume)."""
        pvs = [pv for pv in self.get("pv") if pv["metadata"].get("labels", {}).get(PV_LABEL)]
        released = [pv["metadata"]["name"] for pv in pvs
                    if pv.get("status", {}).get("phase") in ("Released", "Failed")]
        if released:
            self.kubectl("delete", "pv", "--wait=false", *released)
        available = sum(1 for pv in pvs if pv.get("status", {}).get("phase") == "Available")
        new = []
        for _ in range(max(0, count - available)):
            self._pv_serial += 1
            new.append(_volume(f"e2e-pv-{self._pv_serial}"))
        if new:
            self.apply_docs(new)

    def _load_balancer_controller(self) -> None:
        """What a cloud's load-balancer controller and an ingress controller do for the
        engine to see: an address in the status of every LoadBalancer Service and Ingress."""
        assigned: set[str] = set()
        while not self._stop.wait(1.0):
            for kind in ("services", "ingresses"):
                proc = self.kubectl("get", kind, "-A", "-o", "json", check=False, timeout=30)
                if proc.returncode != 0:
                    continue
                for obj in json.loads(proc.stdout)["items"]:
                    md = obj["metadata"]
                    if kind == "services" and obj["spec"].get("type") != "LoadBalancer" or \
                            obj.get("status", {}).get("loadBalancer", {}).get("ingress"):
                        continue
                    assigned.add(md["uid"])
                    ip = f"192.0.2.{len(assigned) % 254 + 1}"
                    patch = {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}
                    self.kubectl("patch", kind, md["name"], "-n", md["namespace"],
                                 "--subresource=status", "--type=merge", "-p",
                                 json.dumps(patch), check=False, timeout=30)

    def namespace_objects(self, namespace: str) -> list[str]:
        """Every namespaced object left in `namespace`, as kind/name (all API resources)."""
        kinds = self.kubectl("api-resources", "--namespaced=true", "--verbs=list",
                             "-o", "name").stdout.split()
        skip = {"events", "events.events.k8s.io"}
        proc = self.kubectl("get", ",".join(k for k in kinds if k not in skip), "-n", namespace,
                            "-o", "name", "--ignore-not-found", check=False)
        return sorted(proc.stdout.split())

    def owned_by_cluster(self, namespace: str, name: str) -> list[str]:
        """kind/name of the objects the CloudNativePG operator made for Cluster `name` (they
        carry its cnpg.io/cluster label or name it as their owner)."""
        out = []
        for obj in self.get(",".join(("pods", "services", "secrets", "configmaps",
                                      "persistentvolumeclaims", "jobs", "poddisruptionbudgets",
                                      "roles", "rolebindings", "serviceaccounts", "leases",
                                      "endpoints", "endpointslices",
                                      "backups.postgresql.cnpg.io")),
                            namespace):
            md = obj["metadata"]
            owners = {(o["kind"], o["name"]) for o in md.get("ownerReferences", [])}
            if md.get("labels", {}).get("cnpg.io/cluster") == name or ("Cluster", name) in owners:
                # as `kubectl get -o name` names it: kind, and the group unless core
                group = obj["apiVersion"].rpartition("/")[0]
                out.append(f"{obj['kind'].lower()}{'.' + group if group else ''}/{md['name']}")
        return out

    def ready_replicas(self, namespace: str, deployment: str) -> int:
        obj = json.loads(self.kubectl("get", "deployment", deployment, "-n", namespace,
                                      "-o", "json").stdout)
        return obj.get("status", {}).get("readyReplicas", 0)

    @staticmethod
    def wait_for(condition, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached after {timeout:.0f} s: {what}")
            time.sleep(1)

    def wait_gone(self, namespace: str, timeout: float = 120) -> None:
        self.wait_for(lambda: self.kubectl("get", "namespace", namespace,
                                           check=False).returncode != 0,
                      f"namespace {namespace} deleted", timeout)
