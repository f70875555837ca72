"""JupyterHub configuration of the rnn-lstm course on one machine.

Local Linux users, each server started by the local process spawner as its
user; students' servers run from the student environment (JupyterLab,
numpy, matplotlib, nbgrader's student extensions, nothing of the grader),
instructors' from the instructor environment (the course's pins and its
``rnncourse`` package). Everything deployment-specific comes from the
settings file that ``hubkit.py`` writes (``RNNCOURSE_HUB_SETTINGS``, a JSON
file in the hub's private state directory), so this file holds no path,
user name or password.

Started by ``make hub`` or ``python deploy/jupyterhub/hubkit.py start``.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub)

settings = json.loads(Path(os.environ["RNNCOURSE_HUB_SETTINGS"]).read_text())
state = Path(settings["state_dir"])
course = settings["course_id"]
instructors = set(settings["instructors"])
students = set(settings["students"])

# The hub and its proxy listen on loopback only; the hub's own API likewise.
c.JupyterHub.bind_url = f"http://127.0.0.1:{settings['port']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
# On shutdown the hub stops every user's server and the proxy (each runs in a
# process group of its own, so they would outlive a hub killed with its group).
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# One shared password for the demo accounts (JupyterHub >= 5; 8 characters or
# more), generated when the hub is started, never stored in the repository.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = settings["password"]
c.Authenticator.allowed_users = instructors | students

# nbgrader's JupyterHub groups: formgrade-<course> for graders, nbgrader-<course>
# for students. nbgrader's JupyterHubAuthPlugin reads them to list the courses of
# a user, so each server's token may read its own user's groups.
c.JupyterHub.load_groups = {
    f"formgrade-{course}": {"users": sorted(instructors)},
    f"nbgrader-{course}": {"users": sorted(students)},
}
c.JupyterHub.load_roles = [{
    "name": "server",
    "scopes": ["users:activity!user", "access:servers!server", "read:users:name!user",
               "read:users:groups!user"],
}]

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 90
c.Spawner.start_timeout = 120
# Nothing of root's environment reaches a user's server (PATH is set below).
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]


def _environment(spawner):
    """The command and environment of a user's server, by role."""
    name = spawner.user.name
    role = "instructor" if name in instructors else "student"
    env = settings[f"{role}_env"]
    spawner.cmd = [f"{env}/bin/jupyterhub-singleuser"]
    spawner.environment.update({
        # nbgrader runs `alembic` by name: the environment's bin comes first.
        "PATH": f"{env}/bin:/usr/local/bin:/usr/bin:/bin",
        # Config of this role: the nbgrader config (exchange, course) and, for
        # students, the instructor extensions switched off.
        "JUPYTER_CONFIG_PATH": settings[f"{role}_config_dir"],
        "NBGRADER_EXCHANGE": settings["exchange"],
        "RNNCOURSE_COURSE_DIR": settings["course_dir"] if role == "instructor" else "",
        # The course's make targets (make grade) run from the instructor environment.
        "VENV": env if role == "instructor" else "",
    })


c.Spawner.pre_spawn_hook = _environment
