"""Outputs: Kubernetes manifests on disk (kubernetes) and the single-host docker target (docker)."""
