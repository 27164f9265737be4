"""Where the API and its workers may connect outside the stack (issue 14 item 2): the
NetworkPolicies deny every other egress, so a payment API or S3 must be named here."""


import ipaddress
import re

from pydantic import Field, field_validator, model_validator

from phasestack.model.base import Spec

# An IPv4/IPv6 address or CIDR as text (no zone ids); ipaddress judges the rest.
CIDR_TEXT = re.compile(r"[0-9A-Fa-f.:]+(/[0-9]{1,3})?")
# what `internet: true` leaves out: the cluster's and the cloud's own networks
PRIVATE_V4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
              "169.254.0.0/16", "127.0.0.0/8")
PRIVATE_V6 = ("fc00::/7", "fe80::/10", "::1/128")
PORTS = Field(default_factory=lambda: [443], min_length=1, max_length=20,
              description="TCP ports (default 443, HTTPS).")


EVERY = ("is every address; set internet: true for the public internet (the cluster's private "
         "ranges stay closed)")


def network(cidr: str, every: str = EVERY) -> str:
    """A CIDR in canonical form; ValueError with the reason otherwise (`every`: what is said of
    a /0)."""
    # digits, hex, dots and colons only: ipaddress also takes an IPv6 zone id
    # ("fe80::1%<anything>"), text that would reach nginx.conf verbatim
    if not CIDR_TEXT.fullmatch(cidr):
        raise ValueError(f"{cidr!r} is not an IP address or CIDR (no zone ids, spaces or other "
                         "characters)")
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"{cidr!r} is not an IP address or CIDR") from None
    if net.prefixlen == 0:
        raise ValueError(f"{cidr!r} {every}")
    return str(net)


class EgressRule(Spec):
    cidr: str = Field(description="Destination network, e.g. 203.0.113.0/24 or one address.")
    ports: list[int] = PORTS
    why: str = Field("", max_length=200, pattern=r"^[^\n]*$",
                     description="What is there (the policy's phasestack.io/egress "
                                 "annotation), e.g. Stripe API.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return network(value)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        bad = [p for p in value if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"{', '.join(map(str, bad))}: not a TCP port (1-65535)")
        return sorted(set(value))


class Egress(Spec):
    internet: bool = Field(
        False, description="Allow any public address on internet_ports (every address but "
                           "the private, carrier-grade NAT, link-local and loopback ranges).")
    internet_ports: list[int] = PORTS
    allow: list[EgressRule] = Field(default_factory=list, max_length=100,
                                    description="Named networks and ports, e.g. a payment "
                                                "API's published ranges or a VPC endpoint.")

    @field_validator("internet_ports")
    @classmethod
    def _internet_ports(cls, value: list[int]) -> list[int]:
        return EgressRule._ports(value)

    @model_validator(mode="after")
    def _ports_without_internet(self) -> "Egress":
        default = [443]
        if self.internet_ports != default and not self.internet:
            raise ValueError("internet_ports needs internet: true")
        return self

    @property
    def open(self) -> bool:
        return self.internet or bool(self.allow)
