"""The set-up promises: one pinned stack for pip and conda, and a Makefile that CI relies on."""

import re

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
