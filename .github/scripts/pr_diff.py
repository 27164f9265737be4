"""The pull request's rendered diff (issue 15): every stack rendered by the base commit's code
and by the head's, compared file by file, so a template, preset, image or code change shows
even when no stack file changed. A stack whose namespace or kube_context changes is flagged:
under Pulumi that replaces every resource (a new Namespace, or another cluster).

    python .github/scripts/pr_diff.py BASE [HEAD] >> comment.md

BASE and HEAD are commits of the repository this script is in (HEAD: the working tree). Each
side renders in its own interpreter from a git worktree, so the base's own code renders the
base. Markdown on stdout; exit 0 whatever differs (the comment is the result).
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_LINES = 400  # per stack in the comment; the job log has the rest

# Run inside a side's tree: render every stack file into OUT/<stack>/ (no secrets.yaml, which
# holds generated passwords), and print each stack's namespace and kube_context.
RENDER = r"""
import json, sys
tree, out = sys.argv[1:]
# this tree's code, not an editable install of another checkout
sys.meta_path[:] = [f for f in sys.meta_path if "Editable" not in getattr(f, "__name__", "")]
sys.path[:] = [tree] + [p for p in sys.path if "__editable__" not in p]
from pathlib import Path
from click.testing import CliRunner
from phasestack.cli import main
from phasestack.stackfile import list_stack_files, load, stack_name
facts = {}
for path in list_stack_files(Path(tree)):
    name = stack_name(path)
    try:
        stack = load(path).stack
    except Exception as err:  # a stack this side refuses: reported, the others still render
        facts[name] = {"error": str(err)}
        continue
    # what the stack deploys: a docker-target stack's compose file and its config files
    compose = ["--format", "compose"] if stack.target == "docker" else []
    r = CliRunner().invoke(main, ["render", str(path), "--out", f"{out}/{name}", *compose])
    facts[name] = {"namespace": stack.namespace, "kube_context": stack.kube_context,
                   **({"error": r.output[-500:]} if r.exit_code else {})}
    (Path(out) / name / "secrets.yaml").unlink(missing_ok=True)
print(json.dumps(facts))
"""


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def render_side(rev: str | None, work: Path, side: str) -> tuple[Path, dict]:
    """`rev`'s tree (None: the working tree) rendered into work/<side>/render."""
    if rev is None:
        tree = REPO
    else:
        tree = work / side / "tree"
        git("worktree", "add", "--detach", "--force", str(tree), rev)
    link = tree / "phasestack" / "components"  # the package layout maps components/ there
    made = not link.exists()
    if made:
        link.symlink_to("../components")
    out = work / side / "render"
    try:
        done = subprocess.run([sys.executable, "-c", RENDER, str(tree), str(out)], cwd=tree,
                              capture_output=True, text=True, timeout=900)
    finally:
        if made:  # only the link this run made, also when the render times out
            link.unlink()
    if done.returncode:
        raise SystemExit(f"rendering {rev or 'the working tree'} failed:\n{done.stderr[-3000:]}")
    return out, json.loads(done.stdout.strip().splitlines()[-1])


def files(root: Path) -> dict[str, str]:
    """Every rendered file but render's own markers (.phasestack-render, .gitignore)."""
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def report(base: Path, base_facts: dict, head: Path, head_facts: dict) -> str:
    out = ["## Rendered output: base → head", ""]
    for name in sorted(base_facts.keys() | head_facts.keys()):
        b, h = base_facts.get(name), head_facts.get(name)
        if b is None or h is None:
            out.append(f"- `{name}`: {'new stack' if b is None else 'stack removed'}")
            continue
        if "error" in b or "error" in h:
            out.append(f"- `{name}`: does not render ({(h.get('error') or b['error'])[:300]})")
            continue
        flags = [f"{k} {b[k]!r} → {h[k]!r}" for k in ("namespace", "kube_context")
                 if b[k] != h[k]]
        old, new = files(base / name), files(head / name)
        diff = [line for f in sorted(old.keys() | new.keys()) for line in difflib.unified_diff(
            old.get(f, "").splitlines(), new.get(f, "").splitlines(),
            f"base/{f}", f"head/{f}", lineterm="")]
        recreate = ("**destroy and recreate** under Pulumi (" + "; ".join(flags) + "): every "
                    "resource is replaced, the data volumes too unless retain_data keeps the "
                    "old namespace's") if flags else ""
        if not diff:
            out.append(f"- `{name}`: {recreate or 'no change'}")
            continue
        changed = sorted(f for f in old.keys() | new.keys() if old.get(f) != new.get(f))
        out += [f"- `{name}`: {recreate + '; ' if recreate else ''}{len(changed)} file(s) "
                "changed: " + ", ".join(f"`{f}`" for f in changed), "",
                "  <details><summary>diff</summary>", "", "  ```diff",
                *(f"  {line}" for line in diff[:MAX_LINES]),
                *([f"  … {len(diff) - MAX_LINES} more lines in the job log"]
                  if len(diff) > MAX_LINES else []),
                "  ```", "", "  </details>"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    base_rev, head_rev = argv[0], argv[1] if len(argv) == 2 else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            base, base_facts = render_side(base_rev, work, "base")
            head, head_facts = render_side(head_rev, work, "head")
            text = report(base, base_facts, head, head_facts)
    finally:
        git("worktree", "prune")  # their directories are gone with the temporary one
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
