"""`kfp-gcp ui`: where an environment's KFP UI is, by the access mode its contract names.

- iap: the domain, behind Identity-Aware Proxy;
- inverse-proxy: the URL on Google's inverting proxy that the agent registered, read from
  the ConfigMap inverse-proxy-config in the cluster;
- port-forward: a port-forward to the ml-pipeline-ui Service with the person's own IAM,
  through the cluster's DNS endpoint (also available in the other modes: --port-forward).
"""

from __future__ import annotations

from typing import Annotated

import typer

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption


def ui(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    port: Annotated[int, typer.Option(help="Local port.", min=1024, max=65535)] = 8080,
    port_forward: Annotated[
        bool,
        typer.Option(
            "--port-forward",
            help="Forward a local port even when the environment has a URL (iap, inverse-proxy).",
        ),
    ] = False,
    outputs_file: OutputsOption = None,
) -> None:
    """Show the KFP UI of an environment: its URL, or a port-forward to it.

    The environment's access mode (the outputs contract's `access`) decides: `iap` prints
    https://DOMAIN; `inverse-proxy` prints the URL the proxy agent registered (read from the
    cluster: your gcloud identity needs roles/container.developer; opening the URL needs
    Service Account User on the agent's Google service account); `port-forward` forwards
    localhost:PORT to the ml-pipeline-ui Service and prints the URL until Ctrl-C.
    """
    from kfp_gcp.services.cluster import deploy
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.project import find_project

    project = find_project(ctx.obj.project_dir)
    outputs = terraform.contract(project, env, outputs_file)
    if not port_forward and outputs.access == "iap":
        output.stdout.print(f"KFP UI: https://{outputs.domain}  (Identity-Aware Proxy)")
        return
    if not port_forward and outputs.access == "inverse-proxy":
        url = deploy.inverse_proxy_url(outputs)
        output.stdout.print(f"KFP UI: {url}  (inverse proxy)", soft_wrap=True)
        return
    code = deploy.port_forward(
        outputs, port, lambda url: output.stdout.print(f"KFP UI: {url}  (Ctrl-C to stop)")
    )
    if code not in (0, 130):
        raise typer.Exit(code)
