"""A team's own application on the API and workers: defaults, and every refusal's exact
message (issue 14 item 1)."""


from phasestack.model import Api, EnvFrom, Stack, Toleration


def test_defaults_add_nothing():
    a = Api()
    assert (a.env, a.secret_env, a.env_from, a.command, a.args) == ({}, {}, [], [], [])
    assert (a.image_pull_secrets, a.node_selector, a.tolerations, a.affinity) == ([], {}, [], {})
    assert a.env_names.database_url == "DATABASE_URL"
    assert a.env_names.redis_cluster_nodes == "REDIS_CLUSTER_NODES"


def test_injected_variables_cannot_be_set_again(refusal):
    assert refusal(lambda: Api(env={"DATABASE_URL": "x"})) == (
        "DATABASE_URL: set by phasestack from the stack's wiring (rename the injected ones "
        "with api.env_names)")
    assert refusal(lambda: Api(secret_env={"DB_PASSWORD": {"secret": "s", "key": "k"}})) == (
        "DB_PASSWORD: set by phasestack from the stack's wiring (rename the injected ones "
        "with api.env_names)")
    # renamed: the old name is the app's own again, the new one is taken
    renamed = Api(env_names={"database_url": "PRISMA_URL"}, env={"DATABASE_URL": "x"})
    assert renamed.env == {"DATABASE_URL": "x"}
    assert refusal(lambda: Api(env_names={"database_url": "PRISMA_URL"},
                               env={"PRISMA_URL": "x"})).startswith("PRISMA_URL: set by")
    assert refusal(lambda: Api(workers=[{"name": "mail", "env": {"WORKER_QUEUE": "x"}}])) == (
        "workers[mail]: WORKER_QUEUE: set by phasestack from the stack's wiring (rename the "
        "injected ones with api.env_names)")


def test_bad_names_are_refused(refusal):
    assert refusal(lambda: Api(env={"1BAD": "x", "ok": "y"})) == (
        "'1BAD': not a valid variable name (letters, digits and _)")
    assert refusal(lambda: Api(env={"A": "1"}, secret_env={"A": {"secret": "s", "key": "k"}})
                   ) == "A: set in both env and secret_env"
    assert refusal(lambda: Api(node_selector={"bad key!": "x"})) == (
        "'bad key!': not a valid label or annotation key")
    assert refusal(lambda: Api(image_pull_secrets=["Registry"])) == (
        "'Registry': not a Secret name")
    assert refusal(lambda: Api(affinity={"nodeAfinity": {}})) == (
        "nodeAfinity: affinity takes nodeAffinity, podAffinity, podAntiAffinity")
    assert refusal(lambda: Api(env_names={"redis_url": "DATABASE_URL"})) == (
        "injected variable names must differ: DATABASE_URL, DATABASE_READ_URL, DATABASE_URL, "
        "REDIS_CLUSTER_NODES")


def test_env_from_and_tolerations(refusal):
    assert refusal(lambda: EnvFrom()) == "give exactly one of secret and config_map"
    assert refusal(lambda: EnvFrom(secret="a", config_map="b")) == (
        "give exactly one of secret and config_map")
    assert refusal(lambda: Toleration(operator="Exists", key="k", value="v")) == (
        "operator Exists takes no value")
    assert refusal(lambda: Toleration(value="v")) == (
        "a toleration without a key needs operator Exists")
    assert Toleration(operator="Exists").key is None


def test_worker_hpa_owns_the_count(refusal):
    assert refusal(lambda: Stack(api={"workers": [
        {"name": "mail", "replicas": 3, "hpa": {"enabled": True}}]})) == (
        "api.workers[mail].replicas: 3 has no effect while its hpa.enabled is true: the HPA "
        "sets the pod count; set hpa.min_replicas and max_replicas instead")
    hpa = {"enabled": True, "min_replicas": 1, "max_replicas": 8}
    w = Stack(api={"workers": [{"name": "mail", "hpa": hpa}]}).api.workers[0]
    assert (w.min_pods, w.max_pods) == (1, 8)


def test_the_docker_target_refuses_what_compose_cannot_express(refusal):
    assert refusal(lambda: Stack(target="docker", api={"command": ["./serve"]})) == (
        "target: docker renders the MVP shape; this stack also has: api.command (use "
        "api.args: compose replaces the image's CMD) (use target: kubernetes)")
    assert refusal(lambda: Stack(target="docker", api={"env_from": [{"secret": "s"}]})) == (
        "target: docker renders the MVP shape; this stack also has: api.secret_env / env_from "
        "(Kubernetes Secrets) (use target: kubernetes)")
    assert Stack(target="docker", api={"env": {"LOG_LEVEL": "info"}, "args": ["serve"]})


def test_a_migration_needs_its_command(refusal):
    from phasestack.model.migration import Migration

    assert refusal(lambda: Migration(enabled=True)) == (
        "command: required when enabled (the migration to run with the API image, e.g. [npx, "
        "prisma, migrate, deploy])")
    assert Migration(command=["x"]).enabled is False  # off unless enabled


def test_docker_cannot_run_the_migration_job(refusal):
    from phasestack.model import Stack

    assert "api.migration (a Kubernetes Job)" in refusal(lambda: Stack(
        target="docker", api={"migration": {"enabled": True, "command": ["migrate"]}}))
