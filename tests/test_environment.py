"""The set-up promises: one pinned stack for pip and conda, and a Makefile that CI relies on."""

import os
import re
import subprocess
import sys

import yaml

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"not an exact pin: {line!r}"
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_requirements_pin_every_line_exactly(root):
    pins = _pins((root / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["jupyter-book"].startswith("1.")
    assert "d2l" not in pins, "d2l is installed with --no-deps by the Makefile, not from requirements.txt"


def test_environment_yml_pins_the_same_versions(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == _pins((root / "requirements.txt").read_text().splitlines())
    assert "python=3.11" in env["dependencies"]


def test_makefile_installs_d2l_without_dependencies(root):
    makefile = (root / "Makefile").read_text()
    assert "--no-deps d2l==1.0.3" in makefile


def test_ci_runs_make_test(root):
    assert "make test" in (root / ".ci" / "run").read_text()


def _perturbed_numerics(root):
    """The environment of `make notebooks-perturbed`, read from the Makefile."""
    makefile = (root / "Makefile").read_text().replace("\\\n", " ")
    line = re.search(r"^PERTURBED_NUMERICS := (.+)$", makefile, re.MULTILINE).group(1)
    return dict(item.split("=", 1) for item in line.split())


def test_make_test_runs_the_notebooks_under_perturbed_numerics_too(root):
    makefile = (root / "Makefile").read_text()
    recipes = re.findall(r"^(?:test|serial-checks):.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    targets = {word for recipe in recipes for line in recipe.splitlines() for word in line.split()}
    assert {"lint", "unit", "notebooks", "notebooks-perturbed", "build-check", "browser"} <= targets


def test_perturbed_numerics_really_change_pytorchs_kernels_and_threads(root):
    env = os.environ | _perturbed_numerics(root)
    code = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["DEFAULT", "1"]
