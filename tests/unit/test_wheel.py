"""The wheel carries the templates and the components: an installed phasestack renders outside
the checkout, and its components import beside a user's own `components/` folder."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def build_wheel(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    return next((tmp_path / "dist").glob("phasestack-*.whl"))


def test_wheel_renders_outside_the_repo(tmp_path):
    wheel = build_wheel(tmp_path)
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


def test_components_import_beside_a_users_components_folder(tmp_path):
    """Issue 13: the wheel shipped a top-level `components` package, and a Pulumi project's
    own components/ folder shadowed it. Installed into a fresh venv, only phasestack is
    top-level, and both import."""
    wheel = build_wheel(tmp_path)
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"phasestack"}, tops
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    # the dependencies (pulumi, pydantic, ...) from the test's own environment, after the
    # venv's site-packages; its editable phasestack finder is not loaded (no .pth runs there)
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and
                (p / "pulumi").is_dir())
    (site / "deps.pth").write_text(f"{deps}\n")
    project = tmp_path / "project"
    (project / "components").mkdir(parents=True)
    (project / "components" / "__init__.py").write_text('OWNER = "the user"\n')
    code = ("import components, phasestack.components.redis as r, phasestack.components.program; "
            "from phasestack.components.topology import Topology; "
            "print(components.OWNER); print(r.__file__)")
    out = subprocess.run([py, "-c", code], cwd=project, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    owner, redis_file = out.stdout.splitlines()
    assert owner == "the user"
    assert Path(redis_file).is_relative_to(site), redis_file
