"""api.egress: the networks the API and workers may reach outside the stack (issue 14 item 2)."""


from phasestack.model import Stack
from phasestack.model.egress import Egress, EgressRule
from phasestack.plan.notes import notes


def test_default_is_closed_and_validate_says_so():
    e = Egress()
    assert not e.open and e.internet_ports == [443]
    def egress(stack):
        return [n for n in notes(stack) if n.startswith("api.egress")]
    (note,) = egress(Stack())
    assert note.startswith("api.egress: none given, so the API and its workers reach only")
    assert not egress(Stack(api={"egress": {"internet": True}}))
    assert not egress(Stack(target="docker"))  # a compose network has no policies


def test_rules_are_canonical():
    r = EgressRule(cidr="203.0.113.7", ports=[443, 80, 443])
    assert (r.cidr, r.ports) == ("203.0.113.7/32", [80, 443])
    assert EgressRule(cidr="2001:db8::1/64").cidr == "2001:db8::/64"


def test_refusals(refusal):
    assert refusal(lambda: EgressRule(cidr="0.0.0.0/0")) == (
        "'0.0.0.0/0' is every address; set internet: true for the public internet (the "
        "cluster's private ranges stay closed)")
    assert refusal(lambda: EgressRule(cidr="stripe.com")) == (
        "'stripe.com' is not an IP address or CIDR (no zone ids, spaces or other characters)")
    assert refusal(lambda: EgressRule(cidr="10.0.0.0/8", ports=[0, 70000])) == (
        "0, 70000: not a TCP port (1-65535)")
    assert refusal(lambda: EgressRule(cidr="10.0.0.0/8", ports=[])) == (
        "List should have at least 1 item after validation, not 0")
    assert refusal(lambda: Egress(internet_ports=[80])) == "internet_ports needs internet: true"
