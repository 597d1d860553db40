"""Run a command in a child process and measure wall time and peak memory; record results."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys


def run_measured(cmd: list[str], env=None) -> dict:
    """Wall time and the peak RSS of the largest process of ``cmd``'s tree."""
    wrapper = [
        sys.executable, "-c",
        "import resource, subprocess, sys, json, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'rc': p.returncode, 'wall': wall, 'peak_rss_mb': rss / 1024,"
        " 'stdout': p.stdout, 'stderr': p.stderr[-4000:]}))",
        *cmd,
    ]
    out = subprocess.run(wrapper, capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {result['stderr']}")
    return result


def dir_size(path: str) -> int:
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(base, f))
    return total


def git_commit(root: str = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) -> str | None:
    """The short hash of the checkout's HEAD (``git rev-parse --short``), or
    None outside a git checkout: the commit a result was measured at."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return out.stdout.strip() or None


def write_result(path: str, result: dict) -> None:
    """Write a benchmark's figures as JSON (the results files are committed)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)


__all__ = ["run_measured", "dir_size", "git_commit", "write_result", "resource"]
