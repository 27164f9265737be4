"""The Pulumi program: `pulumi up --stack phase2` deploys the stack phase2.

Its config comes from Pulumi (stacks/Pulumi.phase2.yaml through Pulumi.yaml's stackConfigDir,
plus `--config` flags and ESC environments) and is validated by the same rules as
`phasestack validate`: defaults <- phase preset <- config.
"""

import pulumi

from components.topology import Topology, TopologyArgs
from phasestack import stackfile

config = pulumi.Config(stackfile.NAMESPACE)
values = {}
for key in stackfile.Stack.model_fields:
    value = config.get_object(key) if key in stackfile.STRUCTURED_KEYS else config.get(key)
    if value is not None:
        values[f"{stackfile.NAMESPACE}:{key}"] = value
try:
    stack, _ = stackfile.from_config(values, f"stack {pulumi.get_stack()} (Pulumi config)")
except stackfile.StackError as err:
    raise pulumi.RunError("\n".join(err.problems)) from None

topology = Topology(pulumi.get_stack(), TopologyArgs(stack))
pulumi.export("phase", stack.phase)
for key, value in topology.outputs.items():
    pulumi.export(key, value)
