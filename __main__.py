"""The Pulumi program: `pulumi up --stack phase2` deploys stacks/Pulumi.phase2.yaml.

The Pulumi CLI runs this with the project root as cwd; Pulumi.yaml's stackConfigDir points at
stacks/, so the stack file phasestack validates is the one Pulumi reads its config from.
"""

import pulumi

from components.topology import Topology, TopologyArgs
from phasestack import stackfile

loaded = stackfile.load(pulumi.get_stack())
topology = Topology(loaded.name, TopologyArgs(loaded.stack))
pulumi.export("phase", loaded.stack.phase)
for key, value in topology.outputs.items():
    pulumi.export(key, value)
