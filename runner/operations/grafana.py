"""Grafana (MAINT-PROF-003): its datasources through its API, and the runbook's provisioning file."""

from __future__ import annotations

from profbot.errors import InvalidArgument
from profbot.ops.contract import ChangeResult
from profbot.ops.grafana import GrafanaDatasources, ListGrafanaDatasources, ProvisionPyroscopeDatasource
from runner import progress, safe_files
from runner.host_policy import HostContext, container_id
from runner.operations.table import op

PYROSCOPE_DATASOURCE_YAML = """\
apiVersion: 1
datasources:
  - name: Pyroscope
    type: pyroscope
    url: http://pyroscope:4040
    access: proxy
    isDefault: false
"""


@op(ListGrafanaDatasources)
async def grafana_datasources(host: HostContext, _: ListGrafanaDatasources) -> GrafanaDatasources:
    if host.grafana is None:
        raise InvalidArgument("this runner has no Grafana configured (GRAFANA_URL and GRAFANA_TOKEN)")
    return await host.grafana.datasources()


@op(ProvisionPyroscopeDatasource)
async def provision_pyroscope_datasource(host: HostContext, _: ProvisionPyroscopeDatasource) -> ChangeResult:
    directory = host.policy.grafana_provisioning_dir
    if directory is None or not directory.is_dir():
        raise InvalidArgument("no Grafana provisioning directory configured (PROFBOT_GRAFANA_PROVISIONING_DIR)")
    container = host.policy.grafana_container
    await host.require_changeable(container)
    target = directory / "pyroscope.yml"
    steps = progress.steps()
    backup = safe_files.backup_if_any(target)  # a link there is refused, with its reason
    if backup is not None:
        steps.append(f"backed up the existing {target.name} to {backup.name}")
    safe_files.write_atomic(target, PYROSCOPE_DATASOURCE_YAML)
    steps.append(f"wrote {target}")
    await host.podman.restart(container, 30)
    steps.append(f"restarted {container} (stop timeout 30s)")
    return ChangeResult(target=str(target), steps=steps, container_id=await container_id(host, container))
