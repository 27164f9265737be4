"""The entry on a real domain (issue 14 item 3): an Ingress in front of nginx, with TLS from an
existing Secret or a cert-manager issuer. The ingress controller terminates TLS and speaks
HTTP/2 to clients (review 001, Performance Optimization Checklist: "Enable HTTP/2 in NGINX";
ingress-nginx enables it on TLS by default); nginx behind it speaks HTTP/1.1 with keepalive
and passes WebSocket upgrades through (review 003, 8. "No WebSocket support configured")."""


from typing import Literal

from pydantic import Field, field_validator, model_validator

from phasestack.model.app import matching
from phasestack.model.base import DNS_LABEL, META_KEY, OBJECT_NAME, URL_PATH, Spec

# a DNS name, optionally with one leading wildcard label (*.example.com)
HOST = r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"


class Ingress(Spec):
    enabled: bool = Field(False, description="Put an Ingress (networking.k8s.io/v1) in front "
                                             "of nginx.")
    class_name: str | None = Field(None, pattern=OBJECT_NAME,
                                   description="ingressClassName; unset: the cluster's default "
                                               "class.")
    hosts: list[str] = Field(default_factory=list, max_length=50,
                             description="Domain names served (the TLS certificate's too).")
    path: str = Field("/", pattern=URL_PATH, description="Path prefix routed to nginx.")
    tls_secret: str | None = Field(
        None, pattern=OBJECT_NAME,
        description="Existing kubernetes.io/tls Secret with the hosts' certificate.")
    cert_manager_issuer: str | None = Field(
        None, pattern=OBJECT_NAME,
        description="cert-manager issuer that makes the certificate (into <nginx>-tls).")
    cert_manager_issuer_kind: Literal["ClusterIssuer", "Issuer"] = Field(
        "ClusterIssuer", description="Kind of cert_manager_issuer.")
    controller_namespace: str = Field(
        "ingress-nginx", pattern=DNS_LABEL,
        description="Namespace of the ingress controller's pods: the only ones nginx accepts "
                    "connections from while its Service is ClusterIP.")
    annotations: dict[str, str] = Field(default_factory=dict,
                                        description="Annotations for the controller "
                                                    "(e.g. proxy-body-size).")

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return matching(value, HOST, "a DNS name")

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        return matching(value, META_KEY, "an annotation key")

    @model_validator(mode="after")
    def _complete(self) -> "Ingress":
        if not self.enabled:
            return self
        if not self.hosts:
            raise ValueError("an enabled ingress needs hosts")
        if (self.tls_secret is None) == (self.cert_manager_issuer is None):
            raise ValueError("an enabled ingress needs exactly one of tls_secret and "
                             "cert_manager_issuer (TLS on a real domain)")
        return self
