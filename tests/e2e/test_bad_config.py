"""Bad config makes `pulumi preview` fail with the key path, and creates nothing."""

from __future__ import annotations

import pytest
from deploy import credentials, stack_file_config
from pulumi import automation as auto

CASES = {
    "wrong type": ({"phasestack:api": {"port": "eighty"}}, "phasestack:api.port"),
    "unknown key": ({"phasestack:replica_count": "3"}, "phasestack:replica_count: unknown key"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_fails_preview_naming_the_key(case, deployer, cluster):
    extra, expected = CASES[case]
    st = deployer.stack(f"e2e-bad-{case.replace(' ', '-')}",
                        {**stack_file_config("phase1"), **extra}, credentials())
    with pytest.raises(auto.CommandError) as err:
        st.preview(on_output=deployer.output, color="never")
    assert expected in str(err.value)
    with pytest.raises(auto.CommandError):
        st.up(on_output=deployer.output, color="never")
    resources = st.export_stack().deployment.get("resources") or []
    assert [r["type"] for r in resources if r["type"].startswith("kubernetes:")] == []
    assert cluster.kubectl("get", "namespace", "ps-phase1", check=False).returncode != 0
    st.workspace.remove_stack(st.name)
