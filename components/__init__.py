"""Pulumi ComponentResources, one per file (DESIGN.md layer 5).

Topology (phasestack.components.topology) composes Network, Credentials and one component per
catalog row (Postgres, PgBouncer, Redis, ApiService, LoadBalancer, Monitoring) for the
Kubernetes target, or DockerHost for the single-host target.
Kept import-free so `import phasestack.components.kube` does not load every component.
"""
