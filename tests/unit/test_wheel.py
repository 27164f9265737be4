"""The wheel carries the templates: an installed phasestack renders outside the checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_wheel_renders_outside_the_repo(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("phasestack-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("templates/*/*.j2"))
    assert templates and all(f"phasestack/{t}" in names for t in templates)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    (work / "stacks").mkdir(parents=True)
    (work / "stacks/Pulumi.p2.yaml").write_text((ROOT / "stacks/Pulumi.phase2.yaml").read_text())
    # the unpacked wheel comes first on the path, ahead of the editable checkout
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from phasestack.synth import common; "
            "assert common.templates_dir().is_relative_to(sys.argv[1]), common.templates_dir(); "
            "from phasestack.cli import main; main(['render', 'p2', '--stdout'])")
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=work, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "kind: ConfigMap" in out.stdout and "least_conn;" in out.stdout
