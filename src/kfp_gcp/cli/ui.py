"""`kfp-gcp ui`: the KFP UI of an environment without a domain, through a port-forward.

No-domain mode replaces upstream's inverse proxy (a hostNetwork agent that registers with
a Google-hosted relay over public egress and bypasses Workload Identity): the UI stays
private and is reached with the person's own IAM through the cluster's DNS endpoint.
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
    outputs_file: OutputsOption = None,
) -> None:
    """Open the KFP UI on localhost through a port-forward (no-domain mode).

    Fetches credentials for the environment's cluster through its DNS endpoint (your
    gcloud identity needs roles/container.developer), forwards localhost:PORT to the
    ml-pipeline-ui Service and prints the URL. Stop with Ctrl-C.
    """
    from kfp_gcp.services.cluster import deploy
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.project import find_project

    project = find_project(ctx.obj.project_dir)
    outputs = terraform.contract(project, env, outputs_file)
    if outputs.domain:
        output.stderr.print(f"note: {env} also serves the UI at https://{outputs.domain} (IAP)")
    code = deploy.port_forward(
        outputs, port, lambda url: output.stdout.print(f"KFP UI: {url}  (Ctrl-C to stop)")
    )
    if code not in (0, 130):
        raise typer.Exit(code)
