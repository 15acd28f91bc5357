"""generated/<env>/deploy-stack.sh against a stand-in docker: a first deploy (no stack
yet: `docker service ps` and `inspect` fail) must get through to the migrations, not
die under `set -euo pipefail` before `docker stack deploy`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A stand-in docker: the stack's services exist only after `docker stack deploy`.
FAKE_DOCKER = r"""#!/bin/bash
printf 'docker %s\n' "$*" >>"$CALLS"
case "$*" in
  "stack deploy"*) touch "$STATE/deployed"; exit 0 ;;
esac
[[ -e "$STATE/deployed" ]] || { echo "Error: no such service" >&2; exit 1; }
case "$*" in
  *"service ps"*--format*) echo "task1 Complete 1 second ago" ;;
  *"service inspect"*) echo 7 ;;
esac
"""


@pytest.mark.parametrize("env", ["prod", "swarm"])
def test_a_first_deploy_runs_and_waits_for_the_migrations(env: str, tmp_path: Path) -> None:
    script = tmp_path / "deploy-stack.sh"
    script.write_text((ROOT / "generated" / env / "deploy-stack.sh").read_text())
    fake, state = tmp_path / "bin", tmp_path / "state"
    fake.mkdir()
    state.mkdir()
    (fake / "docker").write_text(FAKE_DOCKER)
    for tool in ("stat", "sha256sum"):
        (fake / tool).write_text("#!/bin/bash\necho 1\n")
    for tool in fake.iterdir():
        tool.chmod(0o755)
    calls = tmp_path / "calls"
    done = subprocess.run(["bash", str(script), "--with-registry-auth"], capture_output=True,
                          text=True, env={"PATH": f"{fake}:/usr/bin:/bin", "CALLS": str(calls),
                                          "STATE": str(state)})
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    deploy = [i for i, c in enumerate(lines) if c.startswith("docker stack deploy --prune "
                                                               "--with-registry-auth -c stack.yaml")]
    assert len(deploy) == 1
    # A new migrate service runs its first task: nothing to force.
    assert not any("service update --force" in c for c in lines)
    assert "_migrate: completed" in done.stdout


# The stack exists: every `docker stack deploy` moves the service's version on, but
# swarm starts a new migrate task only when its task template changed (TEMPLATE_CHANGES
# set) or the script forces one.
FAKE_REDEPLOY = r"""#!/bin/bash
printf 'docker %s\n' "$*" >>"$CALLS"
case "$*" in
  "stack deploy"*)
    echo $(( $(cat "$STATE/version") + 1 )) >"$STATE/version"
    if [[ -n "$TEMPLATE_CHANGES" ]]; then echo '{"image":"new"}' >"$STATE/template"; touch "$STATE/new"; fi ;;
  *"service update --force"*) touch "$STATE/new" ;;
  *"service ps"*--format*)
    [[ -e "$STATE/new" ]] && echo "task2 Complete 1 second ago"
    echo "task1 Complete 1 hour ago" ;;
  *"service ps"*) echo task1 ;;
  *"service inspect"*Version*) cat "$STATE/version" ;;
  *"service inspect"*TaskTemplate*) cat "$STATE/template" ;;
esac
exit 0
"""


@pytest.mark.parametrize("template_changes", [False, True])
def test_a_redeploy_runs_the_migrations_once_more(template_changes: bool, tmp_path: Path) -> None:
    script = tmp_path / "deploy-stack.sh"
    script.write_text((ROOT / "generated" / "swarm" / "deploy-stack.sh").read_text())
    fake, state = tmp_path / "bin", tmp_path / "state"
    fake.mkdir()
    state.mkdir()
    (state / "version").write_text("7\n")
    (state / "template").write_text('{"image":"old"}\n')
    (fake / "docker").write_text(FAKE_REDEPLOY)
    for tool in ("stat", "sha256sum"):
        (fake / tool).write_text("#!/bin/bash\necho 1\n")
    (fake / "sleep").write_text("#!/bin/bash\n")
    for tool in fake.iterdir():
        tool.chmod(0o755)
    calls = tmp_path / "calls"
    env = {"PATH": f"{fake}:/usr/bin:/bin", "CALLS": str(calls), "STATE": str(state),
           "TEMPLATE_CHANGES": "1" if template_changes else ""}
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "_migrate: completed" in done.stdout
    forced = [c for c in calls.read_text().splitlines() if "service update --force" in c]
    # Forced exactly when the deploy left the task template as it was.
    assert len(forced) == (0 if template_changes else 1), forced
