"""Describe the machine and the Python environments a benchmark ran with."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import psutil

RUNNER_PACKAGES = [
    "corpus-builders", "datasets", "datasketch", "numpy", "pandas", "pyarrow", "scikit-learn", "xxhash",
    "psutil", "matplotlib",
]  # fmt: skip
PEER_PACKAGES = ["datatrove", "spacy", "datasketch", "numpy", "xxhash", "orjson", "pyarrow"]

_VERSIONS_SNIPPET = """
import json, sys
from importlib.metadata import version, PackageNotFoundError
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = version(name)
    except PackageNotFoundError:
        pass
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable, "packages": out}))
"""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(python: str, packages: list[str]) -> dict:
    try:
        res = subprocess.run([python, "-c", _VERSIONS_SNIPPET, *packages], capture_output=True, text=True, timeout=60)
        return json.loads(res.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return {"executable": python, "error": str(exc)}


def describe(peer_pythons: dict[str, str]) -> dict:
    envs = {"runner and our build": environment(sys.executable, RUNNER_PACKAGES)}
    for python in sorted(set(peer_pythons.values())):
        if python == sys.executable:
            continue
        users = ", ".join(sorted(p for p, py in peer_pythons.items() if py == python))
        envs[f"peers ({users})"] = environment(python, PEER_PACKAGES)
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cpus": psutil.cpu_count(logical=False),
        "ram_gib": psutil.virtual_memory().total / 2**30,
        "os": f"{platform.system()} {platform.release()}",
        "environments": envs,
    }
