"""SafeTrain under JupyterHub (`safetrain hub`, docs/hub.md).

- `service`: the records service, a JupyterHub service in its own process and system user,
  the only holder of the records database URL and the instance secret;
- `handin_service`: its 获取 / 提交 / feedback endpoints (the exchange the deployment owns:
  hand-ins kept under the hub user's name, `autograder.handin`);
- `client`: the hub-mode side of the server extension, which forwards the panels' requests
  to the service with its server's hub token and never opens a database;
- `spawn`: the authenticator and spawner the hub uses (PAM, one system user per trainee);
- `deploy`, `users`, `pgcheck`: the deployment under a prefix, its system users, the check
  that the database wants a password; used by `scripts/hub_cli.py`.
"""

from __future__ import annotations

SERVICE_NAME = "safetrain-records"
# Custom scopes the service checks (roles grant them, the user's server token carries them).
SCOPE_OWN = "custom:safetrain:read:own"
SCOPE_UNITS = "custom:safetrain:read:units"
SCOPE_INSTRUCT = "custom:safetrain:read:course"
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
RECORDS_URL_ENV = "SAFETRAIN_RECORDS_URL"
