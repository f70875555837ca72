"""Instructors' global nbgrader configuration (JUPYTER_CONFIG_PATH of their servers).

A server starts in $HOME: the formgrader finds the course through this file
(RNNCOURSE_COURSE_DIR, set by the hub). Commands run inside the course
directory also read its own nbgrader_config.py, which says the same.
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "rnn-lstm"
if os.environ.get("RNNCOURSE_COURSE_DIR"):
    c.CourseDirectory.root = os.environ["RNNCOURSE_COURSE_DIR"]
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
# On the hub (a server or its terminal) courses come from the JupyterHub groups; the
# command line outside the hub has no hub token and needs no plugin.
if os.environ.get("JUPYTERHUB_API_TOKEN"):
    c.Authenticator.plugin_class = JupyterHubAuthPlugin
