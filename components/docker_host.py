"""DockerHost: the MVP shape on one Docker engine (stack.target == "docker").

The containers are phasestack.compose.services(stack), the same model `phasestack render
--format compose` writes, so a compose deployment and `pulumi up` run the same images, commands
and config file texts. Config files are uploaded into the containers (docker cp before start);
credentials are secret Outputs in the containers' environment, never literals.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from phasestack import compose
from phasestack.model import Stack


@dataclass
class DockerHostArgs:
    stack: Stack
    credentials: dict[str, pulumi.Output[str]]


class DockerHost(pulumi.ComponentResource):
    network_name: pulumi.Output[str]
    container_names: pulumi.Output[list[str]]
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: DockerHostArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("phasestack:index:DockerHost", name, None, opts)
        stack = args.stack
        prefix = stack.namespace
        files = compose.config_files(stack)
        services = compose.services(stack)
        child = pulumi.ResourceOptions(parent=self)
        network = docker.Network("network", name=prefix, driver="bridge", opts=child)
        images = {img: docker.RemoteImage(f"image/{img}", name=img, keep_locally=True, opts=child)
                  for img in dict.fromkeys(s.image for s in services)}
        volumes = {vol: docker.Volume(f"volume/{vol}", name=f"{prefix}-{vol}", opts=child)
                   for s in services for vol in s.volumes}
        self.containers: dict[str, docker.Container] = {}
        for svc in _ordered(services):
            for index in range(svc.replicas):
                cname = f"{prefix}-{svc.name}" + (f"-{index}" if svc.replicas > 1 else "")
                self.containers[cname] = self._container(
                    cname, svc, prefix, files, images[svc.image], network, volumes,
                    args.credentials)
        self.network_name = network.name
        self.container_names = pulumi.Output.from_input(sorted(self.containers))
        self.endpoint = pulumi.Output.from_input(f"http://localhost:{compose.HTTP_HOST_PORT}")
        self.register_outputs({"network_name": self.network_name,
                               "container_names": self.container_names,
                               "endpoint": self.endpoint})

    def _container(self, cname: str, svc: compose.Service, prefix: str, files: dict[str, str],
                   image: docker.RemoteImage, network: docker.Network,
                   volumes: dict[str, docker.Volume],
                   credentials: dict[str, pulumi.Output[str]]) -> docker.Container:
        envs = [_env(key, value, credentials) for key, value in svc.environment.items()]
        needs = _needs(svc)
        depends = [self.containers[c] for c in self.containers
                   if any(c == f"{prefix}-{d}" or c.startswith(f"{prefix}-{d}-") for d in needs)]
        kwargs: dict = {}
        if svc.sidecar_of:  # shares the main container's network namespace, like a pod
            kwargs["network_mode"] = f"container:{prefix}-{svc.sidecar_of}"
        else:
            kwargs["networks_advanced"] = [docker.ContainerNetworksAdvancedArgs(
                name=network.name, aliases=[svc.name])]
        return docker.Container(
            cname, name=cname, image=image.image_id, command=svc.command, envs=envs or None,
            ports=[_port(p) for p in svc.ports] or None,
            uploads=[docker.ContainerUploadArgs(file=path, content=files[fname])
                     for path, fname in svc.files.items()] or None,
            volumes=[docker.ContainerVolumeArgs(volume_name=volumes[v].name, container_path=p)
                     for v, p in svc.volumes.items()] or None,
            tmpfs={path: "" for path in svc.tmpfs} or None,
            # docker cp (uploads) refuses a read-only root filesystem
            read_only=svc.read_only and not svc.files,
            security_opts=["no-new-privileges:true"], restart="unless-stopped",
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends or None), **kwargs)


def _needs(svc: compose.Service) -> list[str]:
    return [*svc.depends_on, *([svc.sidecar_of] if svc.sidecar_of else [])]


def _ordered(services: list[compose.Service]) -> list[compose.Service]:
    """Dependencies first, so each container can depend on the ones it needs."""
    done: list[compose.Service] = []
    pending = list(services)
    while pending:
        ready = [s for s in pending if all(d in {x.name for x in done} for d in _needs(s))]
        if not ready:
            raise ValueError(f"dependency cycle among {[s.name for s in pending]}")
        done += ready
        pending = [s for s in pending if s not in ready]
    return done


def _env(key: str, value: compose.Value,
         credentials: dict[str, pulumi.Output[str]]) -> pulumi.Input[str]:
    parts = compose.parts(value)
    if all(isinstance(p, str) for p in parts):
        return f"{key}={''.join(parts)}"  # type: ignore[arg-type]
    pieces = [credentials[p.credential] if isinstance(p, compose.Ref) else p for p in parts]
    return pulumi.Output.secret(pulumi.Output.concat(f"{key}=", *pieces))


def _port(spec: str) -> docker.ContainerPortArgs:
    *ip, external, internal = spec.split(":")
    return docker.ContainerPortArgs(internal=int(internal), external=int(external),
                                    ip=ip[0] if ip else None)
