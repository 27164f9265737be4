"""A stand-in for CloudNativePG's instance managers' status endpoint (https://<podIP>:8000),
as kwok stands in for the kubelets: kwok pods run nothing, so the operator could never read an
instance's status and would stop after the first instance ("Instance Status Extraction
Error"). One listener serves every pod IP (the pod CIDR is routed to the host as local
addresses, cnpg_operator.route_pod_cidr); the local address of a connection names the pod,
whose Cluster's CA (the <cluster>-ca Secret) signs the certificate presented (the operator
checks the chain, not the name). It answers what a healthy instance would: the primary (the
Cluster's target primary) or a streaming standby, the operator's own executable hash (so it
upgrades no instance manager), and, as the primary's instance manager does, it records the
primary in the Cluster's status. PostgreSQL itself is proven apart (tests/integration)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class InstanceManagers:
    def __init__(self, kubectl: list[str], manager_binary: str, version: str = "1.30.1",
                 arch: str = "amd64", bind: str = "0.0.0.0", port: int = 8000):
        self.kubectl = kubectl
        self.hash = hashlib.sha256(open(manager_binary, "rb").read()).hexdigest()
        self.version, self.arch = version, arch
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self._lock = threading.Lock()
        outer = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                ip = sock.getsockname()[0]
                try:
                    ctx = outer._context_for(ip)
                    sock.settimeout(10)
                    return ctx.wrap_socket(sock, server_side=True), addr
                except Exception as exc:  # noqa: BLE001 - unknown pod: drop the connection
                    print(f"fake-im: {ip}: {exc}", file=sys.stderr)
                    sock.close()
                    raise OSError(str(exc)) from exc

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                ip = self.connection.getsockname()[0]
                if self.path.startswith("/pg/status"):
                    body = json.dumps(outer._status(ip)).encode()
                elif self.path.startswith("/pg/controldata"):
                    body = json.dumps(
                        {"data": "Database cluster state: in production\n"}).encode()
                else:
                    body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_GET

        self.server = Server((bind, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():  # shutdown() waits for a serve_forever that never ran
            self.server.shutdown()
        self.server.server_close()

    # --- the cluster's view ---------------------------------------------------------------
    def _get(self, *args) -> dict:
        out = subprocess.run([*self.kubectl, "get", *args, "-o", "json"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
        return json.loads(out)

    def _pod(self, ip: str) -> dict:
        for pod in self._get("pods", "-A", "-l", "cnpg.io/podRole=instance")["items"]:
            if pod.get("status", {}).get("podIP") == ip:
                return pod
        raise LookupError(f"no instance pod has IP {ip}")

    def _context_for(self, ip: str) -> ssl.SSLContext:
        pod = self._pod(ip)
        ns, cluster = pod["metadata"]["namespace"], pod["metadata"]["labels"]["cnpg.io/cluster"]
        with self._lock:
            if (ns, cluster) not in self._contexts:
                self._contexts[(ns, cluster)] = self._make_context(ns, cluster)
            return self._contexts[(ns, cluster)]

    def _make_context(self, ns: str, cluster: str) -> ssl.SSLContext:
        data = self._get("secret", f"{cluster}-ca", "-n", ns)["data"]
        ca_cert = x509.load_pem_x509_certificate(base64.b64decode(data["ca.crt"]))
        ca_key = serialization.load_pem_private_key(base64.b64decode(data["ca.key"]), None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            f"{cluster}-rw")]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{cluster}-rw")]),
                               False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               False)
                .sign(ca_key, hashes.SHA256()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        ctx.load_cert_chain(f.name)
        return ctx

    def _status(self, ip: str) -> dict:
        pod = self._pod(ip)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        cluster = self._get("clusters.postgresql.cnpg.io",
                            pod["metadata"]["labels"]["cnpg.io/cluster"], "-n", ns)
        st = cluster.get("status", {})
        primary = name == (st.get("targetPrimary") or st.get("currentPrimary"))
        if primary and st.get("currentPrimary") != name:
            # what the primary's instance manager does: tell the operator it is the primary
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            patch = {"status": {"currentPrimary": name, "currentPrimaryTimestamp": now}}
            subprocess.run([*self.kubectl, "patch", "clusters.postgresql.cnpg.io",
                            cluster["metadata"]["name"], "-n", ns, "--subresource=status",
                            "--type=merge", "-p", json.dumps(patch)],
                           capture_output=True, timeout=30)
        status = {"systemID": "7400000000000000001", "isPrimary": primary,
                  "currentLsn": "0/3000060", "receivedLsn": "" if primary else "0/3000060",
                  "replayLsn": "" if primary else "0/3000060", "timeLineID": 1,
                  "isWalReceiverActive": not primary, "replayPaused": False,
                  "pendingRestart": False, "pendingRestartForDecrease": False,
                  "isPgRewindRunning": False, "mightBeUnavailable": False,
                  "isArchivingWAL": False, "node": pod["spec"].get("nodeName", ""), "pod": None,
                  "executableHash": self.hash, "instanceManagerVersion": self.version,
                  "instanceArch": self.arch, "isInstanceManagerUpgrading": False,
                  "sessionID": "fake", "isPodReady": True}
        return status


