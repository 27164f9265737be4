"""A stack deployed before the split keeps every Kubernetes resource: PostgreSQL and PgBouncer
were one `database` child (issue 13; commit 0891827). dc59a0d's program deploys phase2, then
the current program previews and applies the same stack with the real engine: only components
may be created or deleted (the Postgres child takes the old URN, PgBouncer's resources alias
theirs); mocks do not compute URNs as the engine does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy import ROOT, credentials, stack_file_config
from pulumi import automation as auto

BEFORE_SPLIT = "dc59a0d"  # the last commit with the Database child
STACK = "phase2"  # PostgreSQL in the cluster, a read replica, PgBouncer
NAMESPACE = "ps-upgrade-urns"
OLD_TYPE = "phasestack:index:Database"
# what a step may do to a Kubernetes resource: keep it, or change it in place
KEPT = {"same", "update", "read", "refresh"}
# a Job's pod template is immutable: a new image (e.g. the Redis image) replaces it under the
# same URN, and the bootstrap it runs is idempotent; that is not a moved resource
JOB = "kubernetes:batch/v1:Job"
REPLACED = {"replace", "create-replacement", "delete-replaced"}

# dc59a0d's program, in its own interpreter: the venv's editable install maps phasestack to the
# current checkout, so its finder is dropped and the export comes first on sys.path
OLD_UP = r"""
import json, sys
export, work, name, root, log, env = sys.argv[1:]
sys.meta_path[:] = [f for f in sys.meta_path if "Editable" not in getattr(f, "__name__", "")]
sys.path[:] = [export] + [p for p in sys.path if "__editable__" not in p]
from pulumi import automation as auto
from phasestack.components import program
st = auto.select_stack(stack_name=name, project_name="phasestack", program=program.main,
    opts=auto.LocalWorkspaceOptions(work_dir=work, env_vars=json.loads(env),
        pulumi_home=json.loads(env)["PULUMI_HOME"],
        pulumi_command=auto.PulumiCommand(root=root, skip_version_check=True)))
with open(log, "a") as fh:
    up = st.up(on_output=lambda line: fh.write(line + "\n"), color="never")
files = sorted({m.__file__ for n, m in list(sys.modules.items())
                if n.split(".")[0] == "phasestack" and getattr(m, "__file__", None)})
print(json.dumps({"result": up.summary.result, "files": files}))
"""


def _repo() -> Path:
    """A clone holding BEFORE_SPLIT: this one, or PHASESTACK_E2E_REPO's (for a copy of the
    tree without .git)."""
    repo = Path(os.environ.get("PHASESTACK_E2E_REPO", ROOT))
    if subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{BEFORE_SPLIT}^{{commit}}"],
                      capture_output=True).returncode != 0:
        # a shallow clone lacks history, not a tool: skipped with the reason, even under CI
        pytest.skip(f"commit {BEFORE_SPLIT} not in {repo} (a shallow clone? "
                    "PHASESTACK_E2E_REPO names a clone that has it)")
    return repo


def export(dest: Path) -> Path:
    """BEFORE_SPLIT's package as an importable tree (components/ is phasestack.components)."""
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(_repo()), "archive", BEFORE_SPLIT, "phasestack",
                              "components", "templates"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", str(dest)], input=archive, check=True)
    (dest / "phasestack" / "components").symlink_to("../components")
    return dest


def steps(events: list[auto.EngineEvent]) -> list[tuple[str, str, str, str]]:
    """(op, type, URN, old URN) of every resource step."""
    out = []
    for event in events:
        if (pre := event.resource_pre_event) is not None:
            md = pre.metadata
            op = md.op.value if hasattr(md.op, "value") else str(md.op)
            out.append((op, md.type, md.urn, md.old.urn if md.old else ""))
    return out


def moved(planned: list[tuple[str, str, str, str]], before: set[str]) -> list[str]:
    """The Kubernetes resources a step creates, deletes or replaces, one line each; a create
    of an object the old code never had (its logical name is not in `before`, e.g. the
    kubelets' ClusterRole of monitoring.node_metrics) is new, not moved."""
    def new(op: str, urn: str) -> bool:
        return op == "create" and urn.rsplit("::", 1)[1] not in before

    def rerun(op: str, type_: str, urn: str, old: str) -> bool:
        return type_ == JOB and op in REPLACED and old in ("", urn)
    return [f"{op} {urn}" + (f" (was {old})" if old and old != urn else "")
            for op, type_, urn, old in planned
            if type_.startswith("kubernetes:") and op not in KEPT and not new(op, urn)
            and not rerun(op, type_, urn, old)]


def kube_resources(st: auto.Stack) -> dict[tuple[str, str], tuple[str, str]]:
    """(type, id) -> (URN, metadata.uid) of each Kubernetes resource in the stack's state."""
    out = {}
    for res in st.export_stack().deployment["resources"]:
        if res["type"].startswith("kubernetes:") and "id" in res:
            uid = res.get("outputs", {}).get("metadata", {}).get("uid", "")
            out[(res["type"], res["id"])] = (res["urn"], uid)
    return out


def test_postgres_and_pgbouncer_keep_the_kubernetes_resources_of_the_database_child(
        deployer, cluster, tools, tmp_path):
    old = export(tmp_path / "before-split")
    config = {**stack_file_config(STACK), "phasestack:namespace": NAMESPACE}
    creds = credentials()
    # the current program's stack: config and credentials in deployer.workdir, nothing run yet
    st = deployer.stack(f"e2e-upgrade-{STACK}", config, creds)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", OLD_UP, str(old), str(deployer.workdir), st.name,
             str(Path(tools["pulumi"]).parent.parent), str(deployer.log),
             # the workspace's env, as Deployer's: KUBECONFIG in the program's would be the
             # provider's kubeconfig input (a diff the current program does not make)
             json.dumps(deployer.env)], capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
        ran = json.loads(proc.stdout.splitlines()[-1])
        assert ran["result"] == "succeeded"
        # the old package, and only it, was imported (else this test would pass vacuously)
        outside = [f for f in ran["files"] if not f.startswith(str(old) + os.sep)]
        assert outside == [] and f"{old}/phasestack/components/database.py" in ran["files"], ran
        before = kube_resources(st)
        assert any(f"${OLD_TYPE}$" in urn for urn, _ in before.values()), before
        # phase2 on dc59a0d's engine, the StatefulSets (phase2 runs CloudNativePG since, a
        # change of its own: test_migration); the old program never saw this key
        deployer.configure(st, {**config, "phasestack:postgres": {"engine": "statefulset"}},
                           creds)

        # the current program on the same state: plan, then apply
        events: list[auto.EngineEvent] = []
        preview = st.preview(on_event=events.append, on_output=deployer.output, color="never")
        names = {urn.rsplit("::", 1)[1] for urn, _ in before.values()}
        bad = moved(steps(events), names)
        assert bad == [], (f"the preview moves Kubernetes resources ({preview.change_summary}):\n"
                           + "\n".join(bad))
        events.clear()
        up = st.up(on_event=events.append, on_output=deployer.output, color="never")
        assert up.summary.result == "succeeded"
        bad = moved(steps(events), names)
        assert bad == [], "`up` moved Kubernetes resources:\n" + "\n".join(bad)

        # the same objects (uid), the database child's now under Postgres or PgBouncer; the
        # objects only the current code has (a logical name not in `names`) are new
        after = kube_resources(st)
        added = {k for k, (urn, _) in after.items()
                 if k not in before and urn.rsplit("::", 1)[1] not in names}
        none = ("", "")
        # a re-run Job is a new object (uid) under its old URN
        changed = [f"{k}: {before.get(k, none)} -> {after.get(k, none)}"
                   for k in sorted((before.keys() | after.keys()) - added)
                   if before.get(k, none)[1] != after.get(k, none)[1]
                   and not (k[0] == JOB and before.get(k, none)[0] == after.get(k, none)[0])]
        assert changed == [], "\n".join(changed)
        moved_child = re.compile(r"\$phasestack:index:(Postgres|PgBouncer)\$")
        stayed = [after[k][0] for k, (urn, _) in before.items()
                  if f"${OLD_TYPE}$" in urn and not moved_child.search(after[k][0])]
        assert stayed == [], stayed
        types = {r["type"] for r in st.export_stack().deployment["resources"]}
        assert OLD_TYPE not in types
        assert {"phasestack:index:Postgres", "phasestack:index:PgBouncer"} <= types
    finally:
        st.destroy(on_output=deployer.output, color="never")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        cluster.wait_gone(NAMESPACE)
        st.workspace.remove_stack(st.name)
        shutil.rmtree(old, ignore_errors=True)
