"""The Pulumi program: `pulumi up --stack phase2` deploys the stack phase2 (components/program.py)."""

from components.program import main

main()
