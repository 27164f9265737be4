"""nginx load balancer in front of the API: ConfigMap, Deployment (+ exporter sidecar), Services,
HPA and PDB, and the nginx.conf text itself (templates/nginx/nginx.conf.j2).

The Service is type LoadBalancer (`nginx.service_type`) with externalTrafficPolicy Local: the
cloud load balancer keeps the client's source address, so limit_req counts per real client
and a client cannot spoof X-Forwarded-For (only `trusted_proxies` may set it). With the
Cluster policy every request would arrive SNATed from a node address inside the trusted
ranges, and rate limits would key on whatever X-Forwarded-For a client sends. The exporter
port (9113) is not on this Service: Prometheus reaches the sidecars through monitoring's own
headless scrape Service.
"""

from __future__ import annotations

import math

from phasestack.model import Stack, cpu_cores
from phasestack.synth import common as c
from phasestack.synth.common import CLUSTER_DOMAIN

COMPONENT = "nginx"
UID = 101  # the `nginx` user of the official nginx:*-alpine image
TMP = "/tmp"
CONF_DIR = "/etc/nginx/phasestack"
# kube-dns is resolved once at startup; nginx then re-resolves the API's headless Service itself
DEFAULT_RESOLVER = f"kube-dns.kube-system.{CLUSTER_DOMAIN}"
# Proxy tuning (not review numbers): retries bounded in count and time.
CONNECT_TIMEOUT, SEND_TIMEOUT = "5s", "30s"
NEXT_UPSTREAM_TRIES, NEXT_UPSTREAM_TIMEOUT = 3, "10s"
MAX_FAILS, FAIL_TIMEOUT = 3, "10s"
KEEPALIVE = 32
WORKER_CONNECTIONS = 4096


def auth_burst(stack: Stack) -> int:
    """A client may send its whole per-minute auth allowance at once (as review 000's windowed
    limiter allows), then one request per 60/rate seconds: burst = rate - 1."""
    return stack.nginx.auth_rate_limit_per_minute - 1


def limit_req(zone: str, burst: int) -> str:
    """limit_req's arguments. nginx refuses `burst=0` ("invalid burst value"), so a zero burst
    (a limit of 1/min, or `nginx.burst: 0`) is written as no burst, which is nginx's 0."""
    return f"zone={zone} burst={burst} nodelay" if burst > 0 else f"zone={zone}"


def worker_processes(stack: Stack) -> int:
    """One worker per core of the pod's CPU limit, at least one ("500m" -> 1, "2" -> 2).
    `auto` would start one per CPU of the node, all throttled within the pod's limit."""
    return max(1, math.ceil(cpu_cores(stack.nginx.resources.cpu_limit)))


def read_timeout(stack: Stack) -> str:
    return f"{stack.request_timeout_s}s"


def upstream_dns(stack: Stack) -> str:
    return f"{c.dns(stack, c.API_HEADLESS)}:{stack.api.port}"


def nginx_conf(stack: Stack, upstreams: list[str] | None = None, listen: int = c.PORTS.nginx_http,
               status_port: int = c.PORTS.nginx_status, prefix: str = TMP,
               resolver: str | None = DEFAULT_RESOLVER) -> str:
    """nginx.conf text. Default: the cluster rendering (headless Service with `resolve`, needs
    nginx 1.27.3+). With `upstreams` (host:port list): a static rendering of the same template
    without `resolve` or resolver, which Debian's nginx 1.22 accepts (tests)."""
    n = stack.nginx
    dynamic = upstreams is None
    return c.render_template(
        "nginx/nginx.conf.j2",
        namespace=stack.namespace, listen=listen, status_port=status_port,
        worker_processes=worker_processes(stack), prefix=prefix.rstrip("/") or "/",
        worker_connections=WORKER_CONNECTIONS,
        client_max_body_size=n.client_max_body_size, trusted_proxies=n.trusted_networks,
        rate_per_minute=n.rate_limit_per_minute, auth_rate_per_minute=n.auth_rate_limit_per_minute,
        general_limit=limit_req("general", n.burst),
        auth_limit=limit_req("auth", auth_burst(stack)), auth_path=n.auth_path,
        resolver=resolver if dynamic else None, resolver_valid=f"{c.RESOLVER_VALID_S}s",
        upstreams=[upstream_dns(stack)] if dynamic else list(upstreams), resolve=dynamic,
        max_fails=MAX_FAILS, fail_timeout=FAIL_TIMEOUT, keepalive=KEEPALIVE,
        behind_ingress=behind_ingress(stack),
        proto="$forwarded_proto" if behind_ingress(stack) else "$scheme",
        connect_timeout=CONNECT_TIMEOUT, send_timeout=SEND_TIMEOUT,
        read_timeout=read_timeout(stack), next_upstream_tries=NEXT_UPSTREAM_TRIES,
        next_upstream_timeout=NEXT_UPSTREAM_TIMEOUT)


def behind_ingress(stack: Stack) -> bool:
    """Only the Ingress controller reaches nginx (ClusterIP, its namespace admitted): its
    X-Forwarded-Proto can be trusted, no client can send one past it."""
    n = stack.nginx
    return n.ingress.enabled and n.service_type == "ClusterIP"


def replicas(stack: Stack) -> int:
    n = stack.nginx
    return n.hpa.min_replicas if n.hpa.enabled else n.replicas


def _containers(stack: Stack, lifecycle: dict) -> list[dict]:
    n = stack.nginx
    nginx = c.container(
        "nginx", n.image, c.resources(n.resources), {"http": c.PORTS.nginx_http},
        liveness=c.http_probe("/healthz", "http"),
        readiness=c.http_probe("/healthz", "http", period=5, delay=2),
        command=["nginx", "-e", "stderr", "-c", f"{CONF_DIR}/nginx.conf"],
        volumeMounts=[{"name": "config", "mountPath": CONF_DIR, "readOnly": True},
                      {"name": "tmp", "mountPath": TMP}],
        # the cloud load balancer drains this pod before nginx stops accepting; the image's
        # STOPSIGNAL (SIGQUIT) then lets nginx finish the requests it holds
        lifecycle=lifecycle)
    exporter = c.container(
        "exporter", n.exporter_image, c.small_resources(),
        {"metrics": c.PORTS.nginx_exporter},
        liveness=c.http_probe("/metrics", "metrics"),
        readiness=c.http_probe("/metrics", "metrics", period=15),
        args=[f"--nginx.scrape-uri=http://127.0.0.1:{c.PORTS.nginx_status}/stub_status",
              f"--web.listen-address=:{c.PORTS.nginx_exporter}"])
    return [nginx, exporter]


def service(stack: Stack) -> dict:
    """The nginx Service of `nginx.service_type` (externalTrafficPolicy only where there are
    node ports, as the API server requires)."""
    n = stack.nginx
    extra = {} if n.service_type == "ClusterIP" else {
        "externalTrafficPolicy": n.external_traffic_policy}
    svc = c.service(stack, c.NGINX, COMPONENT, {"http": 80}, type=n.service_type, **extra)
    if n.node_port is not None:
        svc["spec"]["ports"][0]["nodePort"] = n.node_port
    return svc


def manifests(stack: Stack) -> list[dict]:
    n = stack.nginx
    conf = nginx_conf(stack)
    lifecycle, grace = c.drain(stack, c.NGINX_DRAIN_S)
    spec = c.pod_spec(stack, c.NGINX, UID, _containers(stack, lifecycle),
                      service_account=c.NGINX,
                      volumes=[{"name": "config", "configMap": {"name": c.named(stack, c.NGINX)}},
                               c.empty_dir("tmp")],
                      terminationGracePeriodSeconds=grace)
    docs = [
        c.service_account(stack, c.NGINX, COMPONENT),
        c.config_map(stack, c.NGINX, COMPONENT, {"nginx.conf": conf}),
        service(stack),
        # with the HPA on, spec.replicas stays out: the HPA owns the count (minReplicas is the
        # floor), and every apply / `pulumi up` would otherwise reset it to the minimum at peak
        c.deployment(stack, c.NGINX, COMPONENT, None if n.hpa.enabled else n.replicas, spec,
                     annotations=c.config_hash(conf)),
        *c.pdb(stack, c.NGINX, COMPONENT, replicas(stack)),
    ]
    if n.hpa.enabled:
        docs.append(c.hpa(stack, c.NGINX, COMPONENT, n.hpa.min_replicas, n.hpa.max_replicas,
                          n.hpa.cpu_target))
    return docs + ingress(stack)


def ingress(stack: Stack) -> list[dict]:
    """The Ingress in front of nginx's Service (nginx.ingress), TLS from the team's Secret or
    cert-manager's."""
    i = stack.nginx.ingress
    if not i.enabled:
        return []
    annotations = dict(i.annotations)
    secret = i.tls_secret
    if i.cert_manager_issuer:
        kind = "cluster-issuer" if i.cert_manager_issuer_kind == "ClusterIssuer" else "issuer"
        annotations[f"cert-manager.io/{kind}"] = i.cert_manager_issuer
        secret = c.named(stack, c.NGINX_TLS)
    def path() -> dict:
        return {"path": i.path, "pathType": "Prefix", "backend": {"service": {
            "name": c.named(stack, c.NGINX), "port": {"name": "http"}}}}

    spec = {"rules": [{"host": h, "http": {"paths": [path()]}} for h in i.hosts],
            "tls": [{"hosts": list(i.hosts), "secretName": secret}]}
    if i.class_name:
        spec = {"ingressClassName": i.class_name, **spec}
    md = c.meta(stack, c.NGINX, COMPONENT, **({"annotations": annotations} if annotations
                                             else {}))
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": md,
             "spec": spec}]


def flows(stack: Stack) -> list[c.Flow]:
    """Clients reach nginx from anywhere, or, behind an Ingress with a ClusterIP Service, only
    from the ingress controller's namespace."""
    n = stack.nginx
    src = f"{c.NAMESPACE_PEER}{n.ingress.controller_namespace}" if behind_ingress(stack) \
        else c.ANY
    return [c.Flow(src, c.NGINX, c.PORTS.nginx_http), c.Flow(c.NGINX, c.API, stack.api.port)]
