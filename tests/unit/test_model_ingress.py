"""nginx.ingress: the entry on a real domain, with TLS (issue 14 item 3)."""


from phasestack.model import Nginx, Stack
from phasestack.model.ingress import Ingress

TRUSTED = ["10.244.0.0/16"]


def test_off_by_default():
    i = Ingress()
    assert not i.enabled and i.controller_namespace == "ingress-nginx" and i.path == "/"


def test_an_enabled_ingress_needs_hosts_and_tls(refusal):
    assert refusal(lambda: Ingress(enabled=True, tls_secret="shop-tls")) == (
        "an enabled ingress needs hosts")
    assert refusal(lambda: Ingress(enabled=True, hosts=["shop.example.com"])) == (
        "an enabled ingress needs exactly one of tls_secret and cert_manager_issuer (TLS on a "
        "real domain)")
    assert refusal(lambda: Ingress(enabled=True, hosts=["shop.example.com"],
                                   tls_secret="a", cert_manager_issuer="b")).startswith(
        "an enabled ingress needs exactly one of")
    assert refusal(lambda: Ingress(hosts=["Shop.example.com", "localhost"])) == (
        "'Shop.example.com', 'localhost': not a DNS name")
    assert Ingress(hosts=["*.shop.example.com"]).hosts == ["*.shop.example.com"]


def test_behind_an_ingress_nginx_must_trust_the_pod_network(refusal):
    entry = {"enabled": True, "hosts": ["shop.example.com"], "tls_secret": "shop-tls"}
    assert refusal(lambda: Nginx(ingress=entry)) == (
        "ingress: behind the ingress controller every request comes from its pods; name the "
        "cluster's pod network in trusted_proxies (e.g. 10.244.0.0/16), or the rate limits "
        "count all clients as one")
    assert Nginx(ingress=entry, trusted_proxies=TRUSTED).ingress.enabled
    assert refusal(lambda: Stack(target="docker", nginx={
        "ingress": entry, "trusted_proxies": TRUSTED})) == (
        "target: docker renders the MVP shape; this stack also has: nginx.ingress (use "
        "target: kubernetes)")
