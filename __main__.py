"""The Pulumi program: `pulumi up --stack phase2` deploys the stack phase2 (components/program)."""

from phasestack.components.program import main

main()
