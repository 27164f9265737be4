"""The PR workflow's rendered diff (.github/scripts/pr_diff.py), run here on a two-commit git
repository made from this checkout: a template change shows in every stack that renders it,
though no stack file changed, and a namespace change is flagged as destroy-and-recreate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
MARK = "# a comment only the head's template has"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True,
                          text=True).stdout


def two_commits(repo: Path) -> None:
    tracked = git(ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, tracked):
        src = ROOT / name
        if src.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    conf = repo / "templates" / "nginx" / "nginx.conf.j2"
    conf.write_text(f"{MARK}\n{conf.read_text()}")
    # a change only the docker target's compose file shows
    services = repo / "phasestack" / "targets" / "docker_services.py"
    services.write_text(services.read_text().replace('"retries": 3', '"retries": 5'))
    phase1 = repo / "stacks" / "Pulumi.phase1.yaml"
    phase1.write_text(phase1.read_text().replace("ps-phase1", "ps-phase1-moved"))
    git(repo, "commit", "-qam", "head: a template and a namespace")


def test_template_and_namespace_changes_show(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    two_commits(repo)
    done = subprocess.run([sys.executable, str(repo / ".github/scripts/pr_diff.py"), "HEAD~1",
                           "HEAD"], cwd=repo, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    lines = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("- `")}
    # every stack with nginx shows the template's new line; a stack without nginx does not
    assert "nginx.yaml" in lines["phase2"] and f"+    {MARK}" in text
    assert lines["starter"] == "- `starter`: no change"
    # a docker-target stack is diffed as what it deploys: compose file and config files
    assert "docker-compose.yml" in lines["mvp-docker"] and "nginx.conf" in lines["mvp-docker"]
    assert "+      retries: 5" in text
    assert "**destroy and recreate**" in lines["phase1"]
    assert "namespace 'ps-phase1' → 'ps-phase1-moved'" in lines["phase1"]
    assert "destroy" not in lines["phase2"]
    # the worktrees are gone
    assert git(repo, "worktree", "list").count("\n") == 1
