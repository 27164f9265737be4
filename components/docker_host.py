"""DockerHost: the MVP shape on one Docker engine (stack.target == "docker").

The containers are phasestack.targets.docker.services(stack), the same model `phasestack render
--format compose` writes, so a compose deployment and `pulumi up` run the same images, commands
and config file texts. Credentials are secret Outputs in the containers' environment, never
literals.

Config files are read-only inside the containers, as compose's `:ro` bind mounts make them, and
the root filesystems are as read-only as compose's. docker cp (Container `uploads`) refuses a
read-only root filesystem and a read-only volume; it writes only into a writable volume. So each
service with config files gets one volume per config directory, filled by a loader container
that is created and never started (uploads happen at create, before any start), and the service
mounts those volumes read-only. A label with the files' hash replaces the service's containers
when a file changes, so they restart on the new text.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from phasestack.model import Stack
from phasestack.targets import docker as compose


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
        self.loaders: dict[str, docker.Container] = {}
        for svc in _ordered(services):
            config = self._config(svc, prefix, files, images[svc.image]) if svc.files else None
            for index in range(svc.replicas):
                cname = f"{prefix}-{svc.name}" + (f"-{index}" if svc.replicas > 1 else "")
                self.containers[cname] = self._container(
                    cname, svc, prefix, files, images[svc.image], network, volumes,
                    args.credentials, config)
        self.network_name = network.name
        self.container_names = pulumi.Output.from_input(sorted(self.containers))
        self.endpoint = pulumi.Output.from_input(f"http://localhost:{compose.HTTP_HOST_PORT}")
        self.register_outputs({"network_name": self.network_name,
                               "container_names": self.container_names,
                               "endpoint": self.endpoint})

    def _config(self, svc: compose.Service, prefix: str, files: dict[str, str],
                image: docker.RemoteImage) -> Config:
        """One volume per config directory of `svc`, filled by a loader container."""
        child = pulumi.ResourceOptions(parent=self)
        dirs = config_dirs(svc)
        vols = {d: docker.Volume(f"config/{svc.name}{d}", name=f"{prefix}-{svc.name}-{_slug(d)}",
                                 opts=child) for d in dirs}
        lname = f"{prefix}-{svc.name}-config"
        self.loaders[lname] = docker.Container(
            lname, name=lname, image=image.image_id, start=False, must_run=False,
            network_mode="none", read_only=True,
            volumes=[docker.ContainerVolumeArgs(volume_name=vols[d].name, container_path=d)
                     for d in dirs],
            uploads=[docker.ContainerUploadArgs(file=path, content=files[fname])
                     for path, fname in svc.files.items()],
            opts=child)
        digest = hashlib.sha256("".join(f"{p}\0{files[f]}\0" for p, f in sorted(
            svc.files.items())).encode()).hexdigest()
        return Config(self.loaders[lname], {d: vols[d] for d in dirs}, digest)

    def _container(self, cname: str, svc: compose.Service, prefix: str, files: dict[str, str],
                   image: docker.RemoteImage, network: docker.Network,
                   volumes: dict[str, docker.Volume],
                   credentials: dict[str, pulumi.Output[str]],
                   config: Config | None) -> docker.Container:
        envs = [_env(key, value, credentials) for key, value in svc.environment.items()]
        needs = _needs(svc)
        depends = [self.containers[c] for c in self.containers
                   if any(c == f"{prefix}-{d}" or c.startswith(f"{prefix}-{d}-") for d in needs)]
        mounts = [docker.ContainerVolumeArgs(volume_name=volumes[v].name, container_path=p)
                  for v, p in svc.volumes.items()]
        kwargs: dict = {}
        if config:
            depends.append(config.loader)
            mounts += [docker.ContainerVolumeArgs(volume_name=vol.name, container_path=d,
                                                  read_only=True)
                       for d, vol in config.volumes.items()]
            kwargs["labels"] = [docker.ContainerLabelArgs(label=CONFIG_LABEL,
                                                          value=config.digest)]
        if svc.sidecar_of:  # shares the main container's network namespace, like a pod
            kwargs["network_mode"] = f"container:{prefix}-{svc.sidecar_of}"
        else:
            kwargs["networks_advanced"] = [docker.ContainerNetworksAdvancedArgs(
                name=network.name, aliases=[svc.name])]
        if svc.healthcheck:  # as compose has it (phasestack.targets.docker)
            kwargs["healthcheck"] = docker.ContainerHealthcheckArgs(
                tests=["CMD-SHELL", svc.healthcheck], **compose.HEALTH)
        cap, floor = compose.limits(svc.resources), compose.limits(svc.resources, "request")
        return docker.Container(
            cname, name=cname, image=image.image_id, command=svc.command, envs=envs or None,
            cpus=cap["cpus"], memory=int(cap["memory"][:-1]),
            memory_reservation=int(floor["memory"][:-1]),
            ports=[_port(p) for p in svc.ports] or None, volumes=mounts or None,
            tmpfs={path: "" for path in svc.tmpfs} or None, read_only=svc.read_only,
            user=svc.user, security_opts=["no-new-privileges:true"], restart="unless-stopped",
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends or None), **kwargs)


CONFIG_LABEL = "phasestack.config-sha256"


@dataclass(frozen=True)
class Config:
    loader: docker.Container
    volumes: dict[str, docker.Volume]   # config directory -> its volume
    digest: str                         # sha256 of the files' paths and texts


def config_dirs(svc: compose.Service) -> list[str]:
    """The directories of a service's config files, each mounted whole."""
    return sorted({posixpath.dirname(path) for path in svc.files})


def _slug(directory: str) -> str:
    return directory.strip("/").replace("/", "-")


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
