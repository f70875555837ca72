"""Students' global nbgrader configuration (JUPYTER_CONFIG_PATH of their servers).

The exchange root comes from the hub (NBGRADER_EXCHANGE); the courses a student
sees are those of their JupyterHub groups (nbgrader-<course>).
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "rnn-lstm"
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = JupyterHubAuthPlugin
