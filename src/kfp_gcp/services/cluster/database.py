"""The KFP database user, checked on the live instance through the Cloud SQL proxy.

ML Metadata's server (gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0) logs in only
with the `mysql_native_password` plugin: its MySQL client does not speak
`caching_sha2_password` (google/ml-metadata#178, kubeflow/pipelines#9549). Which plugin
Cloud SQL gives a user created through its Admin API (Terraform's google_sql_user) depends
on the instance's version and flags, so `kfp-gcp manifests apply` asks the server itself:
`SHOW CREATE USER CURRENT_USER()` names the plugin, and MySQL lets every user run it for
themselves (MySQL 8.0 reference manual, "SHOW CREATE USER Statement").

The query goes through one seam, `DatabaseQuery`; tests drive it with recorded answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kfp_gcp.errors import ConfigError, PrerequisiteError, RunError

MLMD_PLUGIN = "mysql_native_password"

# (local port, user, password) -> the one value SHOW CREATE USER CURRENT_USER() returns.
DatabaseQuery = Callable[[int, str, str], str]

# MySQL 8.0/8.4 print `CREATE USER \`kfp\`@\`%\` IDENTIFIED WITH 'caching_sha2_password' AS ...`
# (older servers quote the account with single quotes).
_ACCOUNT_AND_PLUGIN = re.compile(
    r"CREATE USER\s+(?P<account>[`'][^`']*[`']@[`'][^`']*[`'])"
    r"\s+IDENTIFIED WITH\s+[`']?(?P<plugin>\w+)",
    re.IGNORECASE,
)


def account_and_plugin(statement: str) -> tuple[str, str]:
    """`kfp`@`%` and its plugin, from SHOW CREATE USER's statement."""
    found = _ACCOUNT_AND_PLUGIN.search(statement)
    if not found:
        raise RunError(
            f"cannot read the authentication plugin from {statement[:80]!r}",
            hint="run SHOW CREATE USER CURRENT_USER() yourself through the Cloud SQL proxy",
        )
    account = found["account"].replace("`", "'")
    return account, found["plugin"].lower()


def check_mlmd_user(statement: str, password_secret: str) -> str:
    """The account, if ML Metadata can log in as it; else a ConfigError with the fix."""
    account, plugin = account_and_plugin(statement)
    if plugin != MLMD_PLUGIN:
        raise ConfigError(
            f"the KFP database user {account} authenticates with {plugin}; ML Metadata "
            f"1.14.0 can only log in with {MLMD_PLUGIN}, so metadata-grpc would never start",
            hint=f"as a Cloud SQL admin user, run ALTER USER {account} IDENTIFIED WITH "
            f"{MLMD_PLUGIN} BY '<the password in {password_secret}>'; then apply again "
            '(docs/manifests.md, "ML Metadata\'s MySQL user")',
        )
    return account


def show_create_user(port: int, user: str, password: str) -> str:
    """The live seam: SHOW CREATE USER CURRENT_USER() on 127.0.0.1:port (a port-forward to
    the proxy Service), as `user`."""
    import pymysql

    try:
        connection = pymysql.connect(
            host="127.0.0.1", port=port, user=user, password=password, connect_timeout=20
        )
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code == 1045:  # ER_ACCESS_DENIED_ERROR
            raise ConfigError(
                f"the database refused user {user!r}: {exc.args[-1]}",
                hint="the password in Secret Manager and the Cloud SQL user disagree: set both "
                "again by raising cloudsql.password_version in the environment's "
                "terraform.tfvars.json, then `kfp-gcp infra plan --env ENV` and "
                "`kfp-gcp infra apply --env ENV`",
            ) from None
        raise PrerequisiteError(
            f"cannot reach the database through the Cloud SQL proxy: {exc.args[-1]}",
            hint="kubectl -n kubeflow logs deploy/cloudsql-proxy says why",
        ) from None
    with connection, connection.cursor() as cursor:
        cursor.execute("SHOW CREATE USER CURRENT_USER()")
        row = cursor.fetchone()
    if not row:
        raise RunError("SHOW CREATE USER returned nothing", hint="check the database user")
    return str(row[0])
