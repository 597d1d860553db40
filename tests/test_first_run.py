"""The first-run commands: ``scripts/setup-venv`` installs only when what
it installs changed, and the documented ``python -m`` commands print no
warning.

setup-venv runs for real (bash, its stamp files, the real interpreter's
hashing) in a copy of the project's scripts; only ``.venv/bin/python`` is a
stand-in that records the pip commands it is given, since a real pip
install takes minutes and the registry."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

from conftest import ROOT

STUB = """#!/usr/bin/env bash
# Stands in for the venv's python: pip commands are recorded, the rest runs.
if [ "$1" = -m ] && [ "$2" = pip ]; then
  [ "$3" = --version ] && exit 0
  echo "$*" >> "$(dirname "$0")/../pip.log"
  exit 0
fi
exec {real} "$@"
"""


def _project(tmp_path):
    os.makedirs(tmp_path / "scripts")
    shutil.copy(os.path.join(ROOT, "scripts", "setup-venv"), tmp_path / "scripts" / "setup-venv")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["flask>=3"]\n')
    os.makedirs(tmp_path / ".venv" / "bin")
    stub = tmp_path / ".venv" / "bin" / "python"
    stub.write_text(STUB.format(real=sys.executable))
    stub.chmod(0o755)
    return tmp_path


def _setup(project, *extras) -> list[str]:
    """Run setup-venv; the pip commands it ran."""
    log = project / ".venv" / "pip.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", str(project / "scripts" / "setup-venv"), *extras], check=True, timeout=60)
    return log.read_text().splitlines() if log.exists() else []


def test_setup_venv_installs_only_when_pyproject_or_extras_change(tmp_path):
    project = _project(tmp_path)
    first = _setup(project)
    assert first == ["-m pip install -q --upgrade pip", "-m pip install -q -e ."]
    assert _setup(project) == []                       # a second start: nothing changed
    assert _setup(project, "dev") == ["-m pip install -q --upgrade pip", "-m pip install -q -e .[dev]"]
    assert _setup(project, "dev") == []
    assert _setup(project) == []                       # the dev install included the base
    with open(project / "pyproject.toml", "a") as f:
        f.write('# a new dependency\n')
    assert _setup(project) == ["-m pip install -q --upgrade pip", "-m pip install -q -e ."]
    assert _setup(project, "dev")[-1] == "-m pip install -q -e .[dev]"   # base stamp is not dev's


def test_a_failed_install_is_tried_again(tmp_path):
    project = _project(tmp_path)
    stub = project / ".venv" / "bin" / "python"
    stub.write_text(STUB.replace('exit 0\nfi', 'exit 1\nfi').format(real=sys.executable))
    result = subprocess.run(["bash", str(project / "scripts" / "setup-venv")], timeout=60)
    assert result.returncode != 0
    stub.write_text(STUB.format(real=sys.executable))
    assert _setup(project) == ["-m pip install -q --upgrade pip", "-m pip install -q -e ."]


def _run_module(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-W", "error", "-m", *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


def test_token_command_prints_a_token_and_its_digest_without_warnings():
    from web.auth import digest

    result = _run_module("web.tokens", "new")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    token = lines[0].removeprefix("token:").strip()
    assert len(token) >= 40
    assert lines[1].split()[1] == digest(token)
    hashed = _run_module("web.tokens", "hash", token)
    assert (hashed.returncode, hashed.stdout.strip(), hashed.stderr) == (0, digest(token), "")


def test_token_command_without_a_verb_prints_usage():
    result = _run_module("web.tokens")
    assert result.returncode == 2
    assert "usage: python -m web.tokens new | hash <token>" in result.stderr


def test_every_python_m_web_command_in_the_readme_runs_as_a_module_without_warnings():
    """Each ``python -m web.X`` the README shows is a module no part of the
    web package imports (else runpy warns that it was already imported)."""
    import re

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        modules = sorted(set(re.findall(r"python -m (web\.[a-z_.]+)", f.read())))
    assert "web.tokens" in modules
    for module in modules:
        env = dict(os.environ, PYTHONPATH=ROOT)
        code = f"import runpy, warnings; warnings.simplefilter('error'); import web; " \
               f"import sys; assert {module!r} not in sys.modules, 'imported by the web package'"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                                env=env, cwd=ROOT)
        assert result.returncode == 0, f"{module}: {result.stderr[-500:]}"


def test_maven_writes_no_colour_codes_even_on_a_terminal():
    """scripts/opensearch runs Maven through ``mvn_plain``: its output has
    no ANSI escape codes, even on a terminal (a pty made by ``script``)."""
    import pytest

    if not (shutil.which("mvn") and shutil.which("script") and shutil.which("java")):
        pytest.skip("needs mvn, java and script(1)")
    with open(os.path.join(ROOT, "scripts", "opensearch"), encoding="utf-8") as f:
        definition = next(line for line in f if line.startswith("mvn_plain()"))
    launcher = os.path.join(ROOT, "tools", "opensearch-cluster")
    command = f"{definition.strip()}\ncd {launcher} && mvn_plain -o validate"
    result = subprocess.run(["script", "-qec", f"bash -c {shlex.quote(command)}", "/dev/null"],
                            capture_output=True, timeout=120)
    assert b"BUILD SUCCESS" in result.stdout, result.stdout[-2000:]
    assert b"\x1b[" not in result.stdout
