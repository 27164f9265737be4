"""The real CloudNativePG operator (1.30.1, toolchain/cnpg-operator.sh) as a host process
against the e2e cluster, so that the release manifest a stack's `pulumi up` applies has its
webhooks answered (mutating defaults, validation) and its Clusters reconciled (instance pods,
claims, the -rw/-ro/-r Services, initdb and join Jobs).

How it reaches the API server and back (root only: a mount namespace and a route):
- kube-apiserver runs with --enable-aggregator-routing (cluster.Cluster): it calls a webhook's
  Service at an address of its EndpointSlices, not its ClusterIP (there is no kube-proxy);
- the pod CIDR kwok hands out is routed to this host as local addresses, so the manifest's own
  operator Deployment keeps its kwok pod, whose IP is the webhook Service's endpoint, and the
  host process listening on :9443 (its targetPort) answers there; nothing in the cluster is
  changed, so Pulumi sees no drift;
- the operator makes its own webhook certificate (cnpg-webhook-cert, for
  cnpg-webhook-service.cnpg-system.svc) and waits for the kubelet to mount it at
  /run/secrets/cnpg.io/webhook: a thread copies the Secret into a directory of ours, which a
  private mount namespace binds at that path (the host's /run is not touched);
- it runs as the manifest's cnpg-manager ServiceAccount (its token), so the manifest's RBAC is
  what it has; a supervisor reruns it when it exits, as a kubelet restarts a pod (it exits
  while its CRDs are missing, e.g. before the first stack applies them).
instance_managers.InstanceManagers answers for the pods kwok does not run.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import subprocess
import threading
from pathlib import Path

import yaml
from cluster import Cluster

NAMESPACE = "cnpg-system"
POD_CIDR = "10.0.0.0/24"  # kwok's default --cidr
WEBHOOK_PORT = 9443       # the webhook Service's targetPort in the release manifest
CERT_DIR = "/run/secrets/cnpg.io/webhook"  # where the operator reads its serving certificate
ROOT = Path(__file__).resolve().parents[2]


class Unavailable(Exception):
    pass


def binary_dir() -> str:
    """PHASESTACK_CNPG_OPERATOR_BIN (make e2e), else toolchain/cnpg-operator.sh's build."""
    given = os.environ.get("PHASESTACK_CNPG_OPERATOR_BIN")
    if given:
        return given
    proc = subprocess.run(["bash", str(ROOT / "toolchain" / "cnpg-operator.sh")],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise Unavailable(f"toolchain/cnpg-operator.sh failed:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


def check_host() -> None:
    """Root, and no address of this host inside the pod CIDR (the route would take it)."""
    if os.geteuid() != 0:
        raise Unavailable("the CloudNativePG operator's e2e run needs root (a route for the "
                          "pod CIDR, a private mount namespace)")
    pods = ipaddress.ip_network(POD_CIDR)
    out = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    for word in out.split():
        if "/" in word and word[0].isdigit():
            if ipaddress.ip_interface(word).ip in pods:
                raise Unavailable(f"this host has {word}, inside kwok's pod CIDR {POD_CIDR}")


def route_pod_cidr() -> None:
    subprocess.run(["ip", "route", "replace", "local", POD_CIDR, "dev", "lo"], check=True)


def unroute_pod_cidr() -> None:
    subprocess.run(["ip", "route", "del", "local", POD_CIDR, "dev", "lo", "table", "local"],
                   capture_output=True)


class HostOperator:
    """`manager controller` on the host, supervised, plus the kubelet's part: the webhook
    Secret's files."""

    def __init__(self, cluster: Cluster, bin_dir: str, workdir: Path, manifest: str):
        self.cluster, self.bin_dir, self.workdir = cluster, bin_dir, workdir
        self.manifest = manifest  # the release manifest (phasestack/vendor)
        self.certs = workdir / "webhook-certs"
        self.log = workdir / "operator.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _kubeconfig(self) -> Path:
        admin = yaml.safe_load(self.cluster.kubeconfig.read_text())
        token = self.cluster.kubectl("create", "token", "cnpg-manager", "-n", NAMESPACE,
                                     "--duration=24h").stdout.strip()
        path = self.workdir / "operator.kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "operator",
            "clusters": [{"name": "kwok", "cluster": admin["clusters"][0]["cluster"]}],
            "users": [{"name": "cnpg-manager", "user": {"token": token}}],
            "contexts": [{"name": "operator",
                          "context": {"cluster": "kwok", "user": "cnpg-manager"}}]}))
        path.chmod(0o600)
        return path

    def _sync_certs(self) -> None:
        last = None
        while not self._stop.wait(0.5):
            proc = self.cluster.kubectl("get", "secret", "cnpg-webhook-cert", "-n", NAMESPACE,
                                        "-o", "json", check=False, timeout=30)
            if proc.returncode != 0:
                continue
            data = json.loads(proc.stdout).get("data", {})
            if data == last:
                continue
            for key, value in data.items():
                tmp = self.certs / f".{key}.tmp"
                tmp.write_bytes(base64.b64decode(value))
                tmp.chmod(0o600)
                tmp.rename(self.certs / key)
            last = data

    def _ready_to_run(self) -> bool:
        need = [("serviceaccount", "cnpg-manager", "-n", NAMESPACE),
                ("mutatingwebhookconfiguration", "cnpg-mutating-webhook-configuration"),
                ("validatingwebhookconfiguration", "cnpg-validating-webhook-configuration"),
                ("crd", "clusters.postgresql.cnpg.io")]
        return all(self.cluster.kubectl("get", *args, check=False, timeout=30).returncode == 0
                   for args in need)

    def _supervise(self) -> None:
        # unshare execs sh, which execs the manager: Popen.pid is the operator's
        script = ('set -e; mount -t tmpfs tmpfs /run; mkdir -p "$0"; '
                  'mount --bind "$CERTS" "$0"; exec "$@"')
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, CERT_DIR,
               f"{self.bin_dir}/manager", "controller", "--leader-elect=false",
               f"--webhook-port={WEBHOOK_PORT}", "--metrics-bind-address=0"]
        while not self._stop.is_set():
            if not self._ready_to_run():
                self._stop.wait(1)
                continue
            env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
                   "KUBECONFIG": str(self._kubeconfig()), "OPERATOR_NAMESPACE": NAMESPACE,
                   "CERTS": str(self.certs)}
            with self._lock:
                if self._stop.is_set():
                    return
                self.starts += 1
                # cwd: it finds the instance manager binaries it would inject by operator/*
                self.proc = subprocess.Popen(cmd, cwd=self.bin_dir, env=env,
                                             stdin=subprocess.DEVNULL,
                                             stdout=open(self.log, "ab"),
                                             stderr=subprocess.STDOUT)
            self.proc.wait()
            self._stop.wait(1)

    def start(self) -> None:
        self.certs.mkdir(parents=True, exist_ok=True)
        for target in (self._sync_certs, self._supervise):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)

    def serving(self) -> bool:
        """The current run serves its webhooks and its controllers' caches have synced."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        text = text.split('"Starting CloudNativePG Operator"')[-1]
        return self.proc is not None and self.proc.poll() is None and \
            '"Serving webhook server"' in text and '"Starting workers"' in text

    def restart(self) -> None:
        """A fresh run (with a fresh token): after a destroy recreated its ServiceAccount."""
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)

    def answers(self) -> bool:
        """The API server gets the webhooks' answer: a Cluster is defaulted and accepted in a
        server-side dry run."""
        probe = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                 "metadata": {"name": "probe", "namespace": "default"},
                 "spec": {"instances": 1, "storage": {"size": "1Gi"}}}
        proc = self.cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                                    input=json.dumps(probe), check=False, timeout=60)
        return proc.returncode == 0 and '"wal_level"' in proc.stdout  # the defaults are in

    def ensure(self, timeout: float = 240) -> None:
        """The operator's objects applied (a stack's destroy deletes all but its CRDs) and a
        current run answering its webhooks."""
        # over a stack's Pulumi-applied copy (its field manager owns the fields): the same
        # objects, so the conflicts are forced
        self.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                             input=self.manifest)
        self.restart()
        self.cluster.wait_for(lambda: self.serving() and self.answers(),
                              "the CloudNativePG operator answering its webhooks", timeout)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in self._threads:
            t.join(timeout=10)
