"""`phasestack render`: files, atomic writes, secrets never on stdout, byte-identical reruns."""

import os
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from phasestack.cli import main
from phasestack.synth.secrets import CREDENTIALS, env_var

ROOT = Path(__file__).parents[2]
FIXED = {env_var(c): f"value-of-{c}-0123456789" for c in CREDENTIALS}


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def render(*args, env=None):
    return CliRunner().invoke(main, ["render", *args], env=env, catch_exceptions=False)


def test_out_dir_with_private_secrets(tmp_path):
    out = tmp_path / "phase2"
    r = render("phase2", "--out", str(out), env=FIXED)
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert "secrets.yaml" in names and ".gitignore" in names
    assert (out / ".gitignore").read_text() == "secrets.yaml\n"
    assert stat.S_IMODE((out / "secrets.yaml").stat().st_mode) == 0o600
    secrets = list(yaml.safe_load_all((out / "secrets.yaml").read_text()))
    assert {d["kind"] for d in secrets} == {"Secret"}
    values = {v for d in secrets for v in d["stringData"].values()}
    assert "value-of-appPassword-0123456789" in values  # from PHASESTACK_APP_PASSWORD
    for p in out.glob("*.yaml"):
        if p.name != "secrets.yaml":
            text = p.read_text()
            assert "value-of-" not in text, p
            assert all(d["kind"] != "Secret" for d in yaml.safe_load_all(text))
    for value in FIXED.values():
        assert value not in r.output


def test_generated_secrets_differ_and_are_long(tmp_path):
    env = {k: "" for k in FIXED}
    render("mvp", "--out", str(tmp_path / "a"), env=env)
    render("mvp", "--out", str(tmp_path / "b"), env=env)
    a = (tmp_path / "a/secrets.yaml").read_text()
    b = (tmp_path / "b/secrets.yaml").read_text()
    assert a != b
    values = [v for d in yaml.safe_load_all(a) for v in d["stringData"].values()]
    # postgres, app, replication, monitor, redis app and admin (no Grafana in mvp)
    assert len(values) == 6
    assert all(len(v) >= 32 for v in values)


def test_two_renders_identical_apart_from_secrets(tmp_path):
    render("phase3", "--out", str(tmp_path / "a"))
    render("phase3", "--out", str(tmp_path / "b"))
    for p in (tmp_path / "a").iterdir():
        if p.name != "secrets.yaml":
            assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes(), p.name


def test_stdout_has_no_secret(tmp_path):
    r = CliRunner().invoke(main, ["render", "phase1", "--stdout"], env=FIXED)
    assert r.exit_code == 0
    docs = list(yaml.safe_load_all(r.output))
    assert docs and all(d["kind"] != "Secret" for d in docs)
    assert not any(v in r.output for v in FIXED.values())


def test_rerender_replaces_and_bad_input_writes_nothing(tmp_path):
    out = tmp_path / "o"
    render("phase1", "--out", str(out))
    (out / "stale.yaml").write_text("x")
    render("phase1", "--out", str(out))
    assert not (out / "stale.yaml").exists()
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  phasestack:phase: nope\n")
    target = tmp_path / "never"
    r = CliRunner().invoke(main, ["render", str(bad), "--out", str(target)])
    assert r.exit_code == 2
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == ["Pulumi.bad.yaml", "o"]


def test_compose_of_mvp_and_refusal_of_larger_shapes(tmp_path):
    r = render("mvp", "--format", "compose", "--out", str(tmp_path / "c"))
    assert r.exit_code == 0, r.output
    compose = yaml.safe_load((tmp_path / "c/docker-compose.yml").read_text())
    assert {"api", "nginx", "redis", "postgres"} <= set(compose["services"])
    r = CliRunner().invoke(main, ["render", "phase2", "--format", "compose", "--stdout"])
    assert r.exit_code == 2
    assert r.output.startswith("error: ") and "stacks/Pulumi.phase2.yaml: --format compose: " \
        "the docker target renders the MVP shape" in r.output
    assert "Traceback" not in r.output


def test_unwritable_out_is_bad_input():
    r = CliRunner().invoke(main, ["render", "phase1", "--out", "/proc/phasestack-render"])
    assert r.exit_code == 2
    assert r.output.startswith("error: --out /proc/phasestack-render: cannot write: ")
    assert "Traceback" not in r.output


def test_needs_exactly_one_destination():
    r = CliRunner().invoke(main, ["render", "phase1"])
    assert r.exit_code == 2
    assert r.output == "error: give exactly one of --out DIR or --stdout\n"


def test_refuses_to_replace_what_it_did_not_write(tmp_path, monkeypatch):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me")
    r = CliRunner().invoke(main, ["render", "phase1", "--out", str(mine)])
    assert r.exit_code == 2
    assert r.output == (f"error: --out {mine}: not empty and not made by phasestack render "
                        "(no .phasestack-render); choose a new or empty directory\n")
    assert (mine / "todo.txt").read_text() == "keep me"
    for target in (".", ""):
        r = CliRunner().invoke(main, ["render", "phase1", "--out", target])
        assert r.exit_code == 2, target
        assert "is the current directory or one of its parents" in r.output
    assert (ROOT / "README.md").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert render("phase1", "--out", str(empty)).exit_code == 0
    assert (empty / ".phasestack-render").is_file()


def test_rerender_keeps_credentials_and_environment_wins(tmp_path):
    out = tmp_path / "o"
    blank = {k: "" for k in FIXED}
    render("phase1", "--out", str(out), env=blank)
    first = (out / "secrets.yaml").read_text()
    render("phase1", "--out", str(out), env=blank)
    assert (out / "secrets.yaml").read_text() == first  # no silent rotation of live passwords
    render("phase1", "--out", str(out), env={**blank, env_var("appPassword"): "a" * 20})
    values = [d["stringData"] for d in yaml.safe_load_all((out / "secrets.yaml").read_text())]
    pg = next(v for v in values if "app-password" in v)
    assert pg["app-password"] == "a" * 20
    assert pg["postgres-password"] in first


def test_supplied_credentials_must_be_url_safe(tmp_path):
    env = {env_var("redisPassword"): "p@ss:word/with-specials"}
    r = CliRunner().invoke(main, ["render", "phase1", "--out", str(tmp_path / "x")], env=env)
    assert r.exit_code == 2
    assert r.output == ("error: PHASESTACK_REDIS_PASSWORD: use at least 16 characters of "
                        "letters, digits and . _ ~ - (credentials go into connection URLs "
                        "unescaped)\n")
    assert "p@ss" not in r.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["shop", "phase3"])
def test_manifests_have_no_yaml_anchors(name):
    """A dict used twice (the worker's probe, kube-state-metrics' verbs) is written out twice:
    `&id001` / `*id001` are valid YAML but unreadable in a review."""
    r = render(name, "--stdout", env=FIXED)
    assert r.exit_code == 0, r.output
    assert "&id0" not in r.output and "*id0" not in r.output


def test_existing_credentials_render_no_secrets_file(tmp_path):
    """issue 14 item 8: a directory Argo CD or Flux can apply as is."""
    stack = tmp_path / "Pulumi.gitops.yaml"
    stack.write_text("config:\n  phasestack:phase: phase2\n  phasestack:credentials: existing\n")
    out = tmp_path / "gitops"
    r = render(str(stack), "--out", str(out), env=FIXED)
    assert r.exit_code == 0, r.output
    assert "(no Secrets: credentials: existing, the team's)" in r.output
    names = sorted(p.name for p in out.iterdir())
    assert "secrets.yaml" not in names and ".gitignore" not in names
    for p in out.glob("*.yaml"):
        assert all(d["kind"] != "Secret" for d in yaml.safe_load_all(p.read_text())), p
        assert "value-of-" not in p.read_text(), p


def _multiline_scalars(text: str) -> list[yaml.ScalarNode]:
    todo = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    found = []
    while todo:
        node = todo.pop()
        if isinstance(node, yaml.MappingNode):
            todo += [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value
        elif "\n" in node.value:
            found.append(node)
    return found


@pytest.mark.parametrize("name", sorted(p.name[len("Pulumi."):-len(".yaml")]
                                        for p in (ROOT / "stacks").glob("Pulumi.*.yaml")))
def test_every_multiline_string_is_a_literal_block(name, tmp_path):
    """Issue 15: a ConfigMap (pgbouncer.ini, nginx.conf, scripts, dashboards) reads in a pull
    request as the file itself, not as a folded, escaped double-quoted string."""
    r = render(name, "--out", str(tmp_path), env=FIXED)
    assert r.exit_code == 0, r.output
    blocks = 0
    for path in sorted(tmp_path.glob("*.yaml")):
        for node in _multiline_scalars(path.read_text()):
            assert node.style == "|", f"{path.name} line {node.start_mark.line + 1}: " \
                                      f"{node.value[:60]!r} is not a literal block"
            blocks += 1
    assert blocks > 0


def _kubernetes_stacks() -> list[str]:
    from phasestack.stackfile import list_stack_files, load, stack_name

    return [stack_name(p) for p in list_stack_files(ROOT)
            if load(stack_name(p), ROOT).stack.target == "kubernetes"]


KUBERNETES_STACKS = _kubernetes_stacks()


@pytest.mark.parametrize("name", KUBERNETES_STACKS)
def test_render_read_back_is_the_synthesis(name, tmp_path):
    """Issue 17 item 3: libyaml writes the files; read back with PyYAML's pure-Python loader
    they are exactly the objects synthesized in memory, and libyaml's text is the pure-Python
    writer's byte for byte."""
    from phasestack.stackfile import load
    from phasestack.synth import synthesize
    from phasestack.targets import kubernetes

    stack = load(name, ROOT).stack
    values = {c: f"value-of-{c}-0123456789" for c in CREDENTIALS}
    docs = synthesize(stack, values)
    texts, secret_text = kubernetes.files(docs)
    read = [d for text in [*texts.values(), secret_text]
            for d in yaml.load_all(text, Loader=yaml.SafeLoader) if d is not None]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(read, key=key) == sorted(docs, key=key)
    assert kubernetes._Dumper.__mro__[1] is getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Pure(yaml.SafeDumper):
        ignore_aliases = kubernetes._Dumper.ignore_aliases
    Pure.add_representer(str, kubernetes._str)
    pure = yaml.dump_all(docs, Dumper=Pure, sort_keys=False, default_flow_style=False,
                         width=100, explicit_start=True)
    assert kubernetes.dump_all(docs) == pure
