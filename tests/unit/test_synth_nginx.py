"""nginx synthesizer: nginx.conf numbers from the reviews, manifests per phase, schema validity."""

from __future__ import annotations

import hashlib
import re

import kubernetes_validate
import pytest
from pydantic import ValidationError

from phasestack.model import Stack
from phasestack.phases import preset
from phasestack.stackfile import deep_merge, list_stack_files, load, project_root, stack_name
from phasestack.synth import nginx
from phasestack.synth.common import Flow

ROOT = project_root()
STACKS = [stack_name(p) for p in list_stack_files(ROOT)]


def stack(name: str) -> Stack:
    return load(name, ROOT).stack


def by(docs: list[dict], kind: str, name: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def block(conf: str, head: str) -> str:
    """The text of the `head { ... }` block (no nested braces inside those we look at)."""
    start = conf.index(head + " {")
    return conf[start:conf.index("}", start)]


def directives(conf: str) -> list[str]:
    return [line.strip() for line in conf.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_rate_limits_from_review_000():
    conf = nginx.nginx_conf(stack("phase1"))
    d = directives(conf)
    assert "limit_req_zone $binary_remote_addr zone=general:10m rate=300r/m;" in d
    assert "limit_req_zone $binary_remote_addr zone=auth:10m rate=10r/m;" in d
    assert "limit_req_status 429;" in d
    auth = block(conf, "location /auth/")
    assert "limit_req zone=auth burst=9 nodelay;" in auth
    assert "limit_req zone=general burst=20 nodelay;" in auth
    server = conf[conf.index("listen 8080;"):conf.index("location = /healthz")]
    assert "limit_req zone=general burst=20 nodelay;" in server


def test_overrides_reach_the_config():
    s = Stack.model_validate(deep_merge(preset("phase1"), {"phase": "phase1", "nginx": {
        "rate_limit_per_minute": 600, "auth_rate_limit_per_minute": 5, "auth_path": "/login",
        "burst": 7, "client_max_body_size": "10m", "trusted_proxies": ["203.0.113.0/24"]}}))
    d = directives(nginx.nginx_conf(s))
    assert "limit_req_zone $binary_remote_addr zone=general:10m rate=600r/m;" in d
    assert "limit_req_zone $binary_remote_addr zone=auth:10m rate=5r/m;" in d
    assert "location /login {" in d and "limit_req zone=auth burst=4 nodelay;" in d
    assert "limit_req zone=general burst=7 nodelay;" in d
    assert "client_max_body_size 10m;" in d
    assert [x for x in d if x.startswith("set_real_ip_from")] == [
        "set_real_ip_from 203.0.113.0/24;"]


def test_upstream_dynamic_least_conn_keepalive():
    conf = nginx.nginx_conf(stack("phase3"))
    up = block(conf, "upstream api")
    assert directives(up)[1:] == [
        "least_conn;", "zone api 64k;",
        "server api-headless.ps-phase3.svc.cluster.local:9898 resolve max_fails=3 "
        "fail_timeout=10s;",
        "keepalive 32;", "keepalive_timeout 60s;"]
    d = directives(conf)
    assert "resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;" in d
    # keepalive: a request without Upgrade sends an empty Connection header (the map)
    assert "proxy_http_version 1.1;" in d
    assert "proxy_set_header Connection $connection_upgrade;" in d
    assert "''      '';" in d


def test_upstream_static_rendering_has_no_resolve():
    conf = nginx.nginx_conf(stack("phase1"), upstreams=["127.0.0.1:1", "127.0.0.1:2"],
                            listen=18080, status_port=18081, prefix="/srv/x/")
    assert " resolve" not in conf and "resolver" not in conf
    up = directives(block(conf, "upstream api"))
    assert up[3:5] == ["server 127.0.0.1:1 max_fails=3 fail_timeout=10s;",
                       "server 127.0.0.1:2 max_fails=3 fail_timeout=10s;"]
    d = directives(conf)
    assert "listen 18080;" in d and "listen 127.0.0.1:18081;" in d
    assert "pid /srv/x/nginx.pid;" in d
    temp = [x for x in d if "_temp_path" in x]
    assert len(temp) == 5 and all(x.split()[1].startswith("/srv/x/") for x in temp)


def test_hardening_and_proxy_settings():
    conf = nginx.nginx_conf(stack("mvp"))
    d = directives(conf)
    # review 003: request size limits
    assert "client_max_body_size 1m;" in d
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in d
    assert "proxy_next_upstream_tries 3;" in d
    # statement_timeout 30 s (review 003) + 5 s
    assert "proxy_read_timeout 35s;" in d
    # no proxy is trusted by default: with externalTrafficPolicy Local the connecting address is
    # the client, and a pod in the cluster cannot choose its own rate-limit key
    assert [x for x in d if "set_real_ip_from" in x] == []
    assert "real_ip_header X-Forwarded-For;" in d and "real_ip_recursive on;" in d
    assert "gzip on;" in d and "access_log /dev/stdout;" in d and "error_log stderr warn;" in d
    assert "pid /tmp/nginx.pid;" in d
    assert 'return 200 "ok\\n";' in block(conf, "location = /healthz")
    status = block(conf, "location = /stub_status")
    assert "allow 127.0.0.1;" in status and "deny all;" in status
    assert "listen 127.0.0.1:8081;" in d
    assert not re.search(r"^\s*user\s", conf, re.M)  # non-root image: no user switch


@pytest.mark.parametrize("name,replicas,hpa", [
    ("mvp", 1, None), ("phase1", 2, None), ("phase2", 2, None), ("phase3", None, (3, 6))])
def test_replicas_hpa_pdb_per_phase(name, replicas, hpa):
    docs = nginx.manifests(stack(name))
    dep = by(docs, "Deployment", "nginx")["spec"]
    # with an HPA the Deployment leaves replicas to it: an apply must not reset the count
    assert dep.get("replicas") == replicas and ("replicas" in dep) is (hpa is None)
    hpas = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert [(h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for h in hpas] == (
        [hpa] if hpa else [])
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    fewest = hpa[0] if hpa else replicas
    assert len(pdbs) == (0 if fewest < 2 else 1)


@pytest.mark.parametrize(("cpu_limit", "workers"), [("500m", 1), ("1", 1), ("1500m", 2),
                                                    ("2", 2), ("2.5", 3), ("100m", 1)])
def test_worker_processes_follow_the_cpu_limit(cpu_limit, workers):
    s = stack("phase3")
    res = s.nginx.resources.model_copy(update={"cpu_limit": cpu_limit, "cpu_request": "100m"})
    s = s.model_copy(update={"nginx": s.nginx.model_copy(update={"resources": res})})
    assert nginx.worker_processes(s) == workers
    conf = nginx.nginx_conf(s)
    assert re.search(rf"^worker_processes {workers};$", conf, re.M)
    assert "worker_processes auto" not in conf


def test_deployment_service_and_exporter():
    s = stack("phase2")
    docs = nginx.manifests(s)
    cm = by(docs, "ConfigMap", "nginx")
    assert cm["data"]["nginx.conf"] == nginx.nginx_conf(s)
    svc = by(docs, "Service", "nginx")["spec"]
    assert svc["type"] == "LoadBalancer" and svc["externalTrafficPolicy"] == "Local"
    assert svc["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Service"] == ["nginx"]
    dep = by(docs, "Deployment", "nginx")["spec"]["template"]
    digest = hashlib.sha256(cm["data"]["nginx.conf"].encode()).hexdigest()[:16]
    assert dep["metadata"]["annotations"] == {"phasestack.io/config-hash": digest}
    main, exporter = dep["spec"]["containers"]
    assert main["image"] == "nginx:1.27.3-alpine"
    assert main["ports"][0]["containerPort"] == 8080
    assert main["command"] == ["nginx", "-e", "stderr", "-c", "/etc/nginx/phasestack/nginx.conf"]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    assert exporter["image"] == "nginx/nginx-prometheus-exporter:1.3.0"
    assert exporter["ports"][0]["containerPort"] == 9113
    assert "--nginx.scrape-uri=http://127.0.0.1:8081/stub_status" in exporter["args"]
    assert dep["spec"]["securityContext"]["runAsUser"] == 101
    assert all(c["securityContext"]["readOnlyRootFilesystem"] for c in (main, exporter))


def test_flows():
    assert set(nginx.flows(stack("phase1"))) == {Flow("*", "nginx", 8080),
                                                  Flow("nginx", "api", 9898)}


@pytest.mark.parametrize("version", ["1.30", "1.37"])
@pytest.mark.parametrize("name", STACKS)
def test_manifests_validate_strict(name, version):
    docs = nginx.manifests(stack(name))
    assert docs
    for d in docs:
        kubernetes_validate.validate(d, version, strict=True)


def test_service_type_cluster_ip_has_no_traffic_policy_or_node_port():
    stack = Stack.model_validate({"nginx": {"service_type": "ClusterIP"}})
    svc = next(d for d in nginx.manifests(stack) if d["kind"] == "Service")
    assert svc["spec"]["type"] == "ClusterIP"
    assert "externalTrafficPolicy" not in svc["spec"]
    assert all("nodePort" not in p for p in svc["spec"]["ports"])


def test_node_port_needs_a_node_port_service():
    with pytest.raises(ValidationError) as err:
        Stack.model_validate({"nginx": {"service_type": "ClusterIP", "node_port": 30080}})
    assert err.value.errors()[0]["msg"] == (
        "Value error, node_port 30080 needs service_type NodePort or LoadBalancer (a ClusterIP "
        "Service has no node port)")


# the audit's payloads (issue 11): a zone id carrying directives, a newline, split world halves
@pytest.mark.parametrize("cidr", [
    "fe80::1%1; server { listen 127.0.0.1:18099; return 200 injected; } #/64",
    "fe80::1%eth0",
    "10.0.0.0/8\nset_real_ip_from 0.0.0.0/1",
    "10.0.0.0/8;",
    " 10.0.0.0/8",
])
def test_trusted_proxy_text_outside_the_cidr_grammar_is_refused(cidr):
    with pytest.raises(ValidationError) as err:
        Stack.model_validate({"nginx": {"trusted_proxies": [cidr]}})
    assert err.value.errors()[0]["msg"] == (
        f"Value error, {cidr!r} is not an IP address or CIDR (no zone ids, spaces or other "
        "characters)")


def test_trusted_proxies_covering_public_space_need_the_opt_in():
    halves = ["0.0.0.0/1", "128.0.0.0/1"]
    with pytest.raises(ValidationError) as err:
        Stack.model_validate({"nginx": {"trusted_proxies": halves}})
    assert err.value.errors()[0]["msg"] == (
        "Value error, trusted_proxies 0.0.0.0/1, 128.0.0.0/1 cover public addresses; name your "
        "load balancer's range and set trust_public_proxies: true to trust it")
    # a cloud load balancer's published range, said out loud
    lb = Stack.model_validate({"nginx": {"trusted_proxies": ["35.191.0.0/16"],
                                         "trust_public_proxies": True}})
    assert "set_real_ip_from 35.191.0.0/16;" in nginx.nginx_conf(lb)


def test_trusted_proxies_reach_nginx_conf_in_canonical_form():
    stack = Stack.model_validate({"nginx": {"trusted_proxies": ["10.1.2.3/8", "fd00::1/8"]}})
    conf = nginx.nginx_conf(stack)
    assert "set_real_ip_from 10.0.0.0/8;" in conf and "set_real_ip_from fd00::/8;" in conf
    assert "10.1.2.3" not in conf


@pytest.mark.parametrize("settings, general, auth", [
    ({"burst": 0}, "zone=general;", "zone=auth burst=9 nodelay;"),
    ({"auth_rate_limit_per_minute": 1}, "zone=general burst=20 nodelay;", "zone=auth;"),
])
def test_a_zero_burst_is_written_as_no_burst(settings, general, auth):
    # nginx refuses "burst=0" (invalid burst value): primetrade-mvp/phase1 crash-looped on it
    conf = nginx.nginx_conf(Stack.model_validate({"nginx": settings}))
    assert "burst=0" not in conf
    assert f"limit_req {general}" in conf and f"limit_req {auth}" in conf


@pytest.mark.parametrize("name", STACKS)
def test_nginx_pod_drains_longer_than_its_proxy_timeout(name):
    s = stack(name)
    spec = by(nginx.manifests(s), "Deployment", "nginx")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    # the grace period outlasts the drain plus the longest request nginx proxies
    assert spec["terminationGracePeriodSeconds"] == 15 + s.request_timeout_s + 5
    assert f"proxy_read_timeout {s.request_timeout_s}s;" in nginx.nginx_conf(s)


def test_trusted_proxy_naming_the_load_balancer():
    s = Stack.model_validate(deep_merge(preset("phase1"), {
        "phase": "phase1", "nginx": {"trusted_proxies": ["10.20.0.0/16"]}}))
    assert [x for x in directives(nginx.nginx_conf(s)) if "set_real_ip_from" in x] == [
        "set_real_ip_from 10.20.0.0/16;"]


def _entry(**extra) -> Stack:
    ingress = {"enabled": True, "hosts": ["shop.example.com"], "tls_secret": "shop-tls", **extra}
    return Stack(nginx={"service_type": "ClusterIP", "trusted_proxies": ["10.244.0.0/16"],
                        "ingress": ingress})


def test_ingress_routes_the_hosts_to_the_nginx_service_with_tls():
    (ing,) = nginx.ingress(_entry(class_name="nginx", annotations={
        "nginx.ingress.kubernetes.io/proxy-body-size": "1m"}))
    assert ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"}
    spec = ing["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    (rule,) = spec["rules"]
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": {
        "service": {"name": "nginx", "port": {"name": "http"}}}}]
    kubernetes_validate.validate(ing, "1.30", strict=True)


def test_cert_manager_writes_the_certificate_into_nginx_tls():
    s = Stack(nginx={"trusted_proxies": ["10.244.0.0/16"], "ingress": {
        "enabled": True, "hosts": ["shop.example.com"], "cert_manager_issuer": "letsencrypt",
        "cert_manager_issuer_kind": "Issuer"}})
    (ing,) = nginx.ingress(s)
    assert ing["metadata"]["annotations"] == {"cert-manager.io/issuer": "letsencrypt"}
    assert ing["spec"]["tls"][0]["secretName"] == "nginx-tls"
    assert "ingressClassName" not in ing["spec"]  # the cluster's default class


def test_behind_the_ingress_only_the_controller_namespace_reaches_nginx():
    assert nginx.flows(_entry())[0] == Flow("namespace:ingress-nginx", "nginx", 8080)
    # with a LoadBalancer Service as well, clients still come from anywhere
    s = Stack(nginx={"trusted_proxies": ["10.244.0.0/16"], "ingress": {
        "enabled": True, "hosts": ["shop.example.com"], "tls_secret": "t"}})
    assert nginx.flows(s)[0] == Flow("*", "nginx", 8080)
    assert nginx.ingress(Stack()) == []


def test_websocket_upgrades_pass_and_keepalive_stays():
    conf = nginx.nginx_conf(stack("phase1"))
    assert "map $http_upgrade $connection_upgrade {" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert 'proxy_set_header Connection "";' not in conf


def test_behind_the_ingress_the_controllers_scheme_reaches_the_app():
    behind = nginx.nginx_conf(_entry())
    assert "map $http_x_forwarded_proto $forwarded_proto {" in behind
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto;" in behind
    # reachable by clients (a LoadBalancer, or no Ingress): their header is not believed
    for s in (stack("phase1"), Stack(nginx={"trusted_proxies": ["10.244.0.0/16"], "ingress": {
            "enabled": True, "hosts": ["shop.example.com"], "tls_secret": "t"}})):
        conf = nginx.nginx_conf(s)
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
        assert "$forwarded_proto" not in conf


def test_cert_managers_http01_solver_is_admitted_from_the_controller():
    from phasestack.synth import network

    s = Stack(nginx={"trusted_proxies": ["10.244.0.0/16"], "service_type": "ClusterIP",
                     "ingress": {"enabled": True, "hosts": ["shop.example.com"],
                                 "cert_manager_issuer": "letsencrypt"}})
    (solver,) = [p for p in network.policies(s, []) if "acme" in p["metadata"]["name"]]
    assert solver["metadata"]["name"] == "ingress-acme-http01-solver"
    assert solver["spec"] == {
        "podSelector": {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "ingress-nginx"}}}],
            "ports": [{"protocol": "TCP", "port": 8089}]}]}
    kubernetes_validate.validate(solver, "1.30", strict=True)
    # a Secret the team provides: no solver runs
    assert not [p for p in network.policies(_entry(), []) if "acme" in p["metadata"]["name"]]
