"""The hub kit's files, without a hub: pins, lock file, configuration (no root needed)."""

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "deploy" / "jupyterhub"


def _hubkit():
    spec = importlib.util.spec_from_file_location("hubkit", KIT / "hubkit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hub_pins_are_exact_and_hold_what_a_student_needs():
    pins = _hubkit()._pins(KIT / "requirements-hub.txt")
    assert all(re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[^=\s]+", line) for line in pins.values()), pins
    assert pins["jupyterhub"] == "jupyterhub==6.1.1"
    assert pins["nbgrader"] == "nbgrader==0.9.6"
    for name in ("jupyterlab", "numpy", "matplotlib", "ipykernel"):
        assert name in pins
    # Nothing of the grader: the course's own package and its parallel runner stay out.
    assert not {"rnncourse", "dask", "distributed", "torch"} & set(pins)


def test_instructor_pins_take_the_hubs_where_both_name_a_package(tmp_path):
    hubkit = _hubkit()
    course = hubkit._pins(ROOT / "requirements.txt")
    hub = hubkit._pins(KIT / "requirements-hub.txt")
    merged = {**course, **hub}
    assert merged["jupyterhub"] == hub["jupyterhub"] and "dask" in merged
    assert all(merged[name] == line for name, line in hub.items())


def test_proxy_is_pinned_by_a_lock_file_that_names_no_registry():
    package = json.loads((KIT / "package.json").read_text())
    assert package["dependencies"] == {"configurable-http-proxy": "5.3.0"}
    lock = json.loads((KIT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == "5.3.0"
    assert not [k for k, v in lock["packages"].items() if "resolved" in v]
    assert "omit-lockfile-registry-resolved=true" in (KIT / ".npmrc").read_text()


def test_deployment_round_trips_and_names_every_setting(tmp_path):
    hubkit = _hubkit()
    dep = hubkit.Deployment(base=str(tmp_path), port=1, hub_port=2, proxy_api_port=3, instructors=["root"],
                            students=["s1"], password="x" * 16, student_env="/s", instructor_env="/i")
    data = dep.to_dict()
    assert hubkit.Deployment.from_dict(json.loads(json.dumps(data))) == dep
    config = (KIT / "jupyterhub_config.py").read_text()
    used = set(re.findall(r"""settings\[["']([a-z_]+)["']\]""", config))
    used |= {f"{role}_{key}" for role in ("student", "instructor") for key in ("env", "config_dir")}
    assert used <= set(data), used - set(data)
    assert data["exchange"].startswith(str(tmp_path)) and data["state_dir"].startswith(str(tmp_path))


def test_students_do_not_get_the_instructor_tools():
    page = json.loads((KIT / "student" / "labconfig" / "page_config.json").read_text())
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(
        k for k, v in page["disabledExtensions"].items() if v)
    server = json.loads((KIT / "student" / "jupyter_server_config.d" / "rnncourse-student.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
