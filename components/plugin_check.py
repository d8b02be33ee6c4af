"""`pulumi preview` fails on a configured detector that no plugin in the AI package provides.

Built-in detectors are known here; a name beyond them must come from ``extraDetectorPackages``.
When the AI package was built with its dependencies, the extra packages are in it and their plugins
are asked which detectors they register (in a subprocess, the package's directory last on the path,
so only their pure-Python plugin modules come from it); a build without dependencies (tests, quick
previews) cannot say, and a warning says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pulumi

from detectors import plugins

_LIST_DETECTORS = """
import json, sys
from importlib import import_module, metadata
found = {}
for dist in metadata.distributions(path=[sys.argv[1]]):
    if (dist.name or "").replace("_", "-").lower() == sys.argv[2]:
        continue
    for ep in dist.entry_points.select(group=sys.argv[3]):
        hook = getattr(import_module(ep.value), "register_detectors", None)
        if hook is not None:
            items = []
            hook(register=items.append)
            found.update({item.name: ep.name for item in items})
print(json.dumps(found))
"""


def builtin_detectors() -> list[str]:
    """Detectors the project's own plugins register (what every AI package has)."""
    builtin = {info.name for info in plugins.plugin_infos() if info.builtin}
    return sorted(name for name, owner in plugins.detector_owners().items() if owner in builtin)


def packaged_detectors(package_dir: Path) -> dict[str, str]:
    """Detector -> plugin, of the extra plugins installed in an AI package directory."""
    argv = [str(package_dir), plugins.DISTRIBUTION, plugins.ENTRY_POINT_GROUP]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.append({str(package_dir)!r})\n{_LIST_DETECTORS}", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise pulumi.RunError(
            f"extraDetectorPackages: a plugin in the AI package fails to load:\n{done.stderr[-2000:]}"
        )
    return json.loads(done.stdout)


def check_detectors(
    detectors: Sequence[str], extra_packages: Sequence[str], package_dir: Path, with_deps: bool
) -> None:
    """Raise `pulumi.RunError` naming each configured detector that nothing in the AI package provides."""
    builtin = builtin_detectors()
    unknown = [d for d in detectors if d not in builtin]
    if not unknown:
        return
    names = ", ".join(unknown)
    if not extra_packages:
        raise pulumi.RunError(
            f"config detectors: {names} is not a built-in detector (built in: {', '.join(builtin)}) and "
            "extraDetectorPackages is empty: fix the name, or add the package that provides it (docs/plugins.md)"
        )
    if not with_deps:
        pulumi.log.warn(f"detectors {names}: not checked (the AI package was built without its dependencies)")
        return
    provided = packaged_detectors(package_dir)
    missing = [d for d in unknown if d not in provided]
    if missing:
        shown = ", ".join(f"{d} ({p})" for d, p in sorted(provided.items())) or "none"
        raise pulumi.RunError(
            f"config detectors: {', '.join(missing)} is neither built in ({', '.join(builtin)}) nor registered "
            f"by extraDetectorPackages {list(extra_packages)} (they register: {shown})"
        )
