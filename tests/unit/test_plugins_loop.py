"""The plugin author's loop, as docs/plugins.md tells it: ``iops plugins new``, install, kit tests, list, build.

The doc's commands run as written, with two substitutions: the package goes to a temporary directory,
and ``.venv/bin/...`` is a throwaway venv layered over the project's ``.venv`` (a ``.pth`` adds its
site-packages), so installing the new plugin never changes the venv other tests run in.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cli import plugin_template

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"


def doc_commands() -> list[str]:
    """The first bash block of the doc's "From zero to deployed" section."""
    section = DOC.read_text().split("## From zero to deployed", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "docs/plugins.md: no bash block under 'From zero to deployed'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_new_refuses_bad_names_and_existing_directories(tmp_path: Path, capsys) -> None:
    from cli.main import main

    assert main(["plugins", "new", "Has-Caps", "--dir", str(tmp_path / "x")]) == 2
    assert main(["plugins", "new", "statistical", "--dir", str(tmp_path / "y")]) == 2
    assert main(["plugins", "new", "class", "--dir", str(tmp_path / "z")]) == 2
    (tmp_path / "taken").mkdir()
    assert main(["plugins", "new", "fresh", "--dir", str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err and not any((tmp_path / "taken").iterdir())
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert plugin_template.check_name("ok_name2", set()) is None


def test_the_generated_detector_meets_the_contract(tmp_path: Path, monkeypatch) -> None:
    from iops_detector_sdk.testing import assert_detector_contract

    plugin_template.write("demo_z", tmp_path / "pkg")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg" / "src"))
    import iops_demo_z

    assert_detector_contract(iops_demo_z.DemoZDetector())


@pytest.mark.slow
def test_from_zero_to_deployed_as_the_doc_says(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    project_site = sysconfig.get_paths()["purelib"]  # the venv running this test: the project, the SDK
    Path(purelib, "project-venv.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    package = tmp_path / "iops-spiky"
    tools = {
        ".venv/bin/iops": f"{py} -m cli.main",
        ".venv/bin/pip": f"{py} -m pip",
        ".venv/bin/pytest": f"{py} -m pytest -p no:cacheprovider",
    }
    outputs = []
    for line in doc_commands():
        command = line.split("  #")[0].replace("../iops-spiky", str(package))
        for tool, replacement in tools.items():
            command = command.replace(tool, replacement)
        done = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    new, _, tests, listing, build = outputs
    assert "plugin and detector 'spiky'" in new
    assert re.search(r"\b3 passed\b", tests), tests
    spiky = next(row for row in listing.splitlines() if row.startswith("spiky "))
    assert "iops-spiky 0.1.0" in spiky and "detectors: spiky" in spiky and "(enabled)" not in spiky
    assert "stack config `detectors`" in listing  # the hint to enable it
    assert "spiky = iops_spiky" in build and "statistical = detectors.statistical" in build
    assert re.search(r"size: [\d.]+ MiB unzipped \(Lambda's limit 250 MiB\), [\d.]+ MiB zipped", build), build
