"""Wheel build hook: the prebuilt rulebook and catalogs (src/difficult_customers/_prebuilt.py).

They are written into a temporary folder and force-included, so a wheel always carries
artifacts made from exactly its own rulebook, catalogs and code, whatever a checkout's own
``_prebuilt/`` holds (git ignores it, and so does the build). They are Python modules, so
pip compiles them into ``__pycache__`` at install as it does every module of the wheel. An
editable install skips them: a checkout builds its own with ``make prebuilt``, and reads
the sources until then.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PrebuiltArtifactsHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        self._folder = tempfile.mkdtemp(prefix="difficult-customers-prebuilt-")
        # A child process, so that importing the package (pydantic, Babel: the hook's
        # dependencies) leaves the build backend's own interpreter as it was. The sources
        # go before what PYTHONPATH holds already, never instead: pip's isolated build
        # environment, where those dependencies are, is reached through it.
        paths = [str(Path(self.root) / "src"), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
        subprocess.run(
            [sys.executable, "-m", "difficult_customers._prebuilt", self._folder],
            check=True,
            cwd=self.root,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        # Only the files the child wrote: nothing else (no bytecode cache) is in that folder.
        for path in sorted(Path(self._folder).iterdir()):
            if path.is_file():
                target = f"difficult_customers/_prebuilt/{path.name}"
                build_data["force_include"][str(path)] = target

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
