"""Upstreams: the remote-tracking branch a local branch is compared with and pulled
from (git's ``branch.NAME.remote`` / ``branch.NAME.merge``).

Set by ``cof clone`` for the branch it checks out, by ``cof push -u``, by
``cof branch -u`` and when a branch is created from a remote-tracking branch
(``cof checkout -b topic origin/topic``, or ``cof checkout topic`` when only
``origin/topic`` exists, as git's ``--guess``). Stored in ``.cof/remotes.toml``
through :mod:`cofd.sync.registry`, which validates it when read.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.ancestry import ahead_behind
from cofd.ops.repository import Repository
from cofd.sync.registry import (
    Upstream,
    editing_remote_config,
    load_remote_config,
)
from protocol.errors import UsageError

REMOTES = "refs/remotes/"


def upstream_of(repo: Repository, branch: str) -> Upstream | None:
    return load_remote_config(repo.cof_dir).upstreams.get(branch)


def set_upstream(repo: Repository, branch: str, upstream: Upstream) -> None:
    with editing_remote_config(repo.cof_dir) as config:
        config.upstreams[branch] = upstream


def unset_upstream(repo: Repository, branch: str) -> bool:
    """Forget ``branch``'s upstream; False when it had none."""
    with editing_remote_config(repo.cof_dir) as config:
        return config.upstreams.pop(branch, None) is not None


def rename_upstream(repo: Repository, old: str, new: str) -> None:
    """A renamed branch keeps its upstream (git moves the config section too)."""
    with editing_remote_config(repo.cof_dir) as config:
        upstream = config.upstreams.pop(old, None)
        if upstream is not None:
            config.upstreams[new] = upstream


def copy_upstream(repo: Repository, old: str, new: str) -> None:
    """A copied branch tracks what its original tracks (git copies the section);
    NEW's own upstream, if it had one, is replaced or dropped."""
    with editing_remote_config(repo.cof_dir) as config:
        upstream = config.upstreams.get(old)
        if upstream is not None:
            config.upstreams[new] = upstream
        else:
            config.upstreams.pop(new, None)


def remote_tracking(repo: Repository, name: str) -> Upstream | None:
    """The upstream ``name`` designates when it names an existing remote-tracking
    branch of a configured remote (``origin/main``, ``remotes/origin/main`` or
    ``refs/remotes/origin/main``), else None."""
    short = name.removeprefix("refs/").removeprefix("remotes/")
    remote, _, branch = short.partition("/")
    if not branch or remote not in load_remote_config(repo.cof_dir).remotes:
        return None
    upstream = Upstream(remote, branch)
    return upstream if repo.refs.read(upstream.tracking_ref) is not None else None


def require_remote_tracking(repo: Repository, name: str) -> Upstream:
    upstream = remote_tracking(repo, name)
    if upstream is None:
        raise UsageError(
            f"the requested upstream branch '{name}' does not exist "
            "(name a remote-tracking branch such as origin/main; cof fetch brings them)"
        )
    return upstream


def guess_remote_branch(repo: Repository, name: str) -> Upstream | None:
    """The one remote that has a branch ``name``, as git's checkout guesses (none when
    no remote or several remotes have one)."""
    found = [
        Upstream(remote, name)
        for remote in sorted(load_remote_config(repo.cof_dir).remotes)
        if repo.refs.read(f"{REMOTES}{remote}/{name}") is not None
    ]
    return found[0] if len(found) == 1 else None


def tracking_state(repo: Repository, branch: str | None) -> dict[str, Any] | None:
    """``branch``'s upstream and how far apart they are: ahead/behind in commits, or
    ``gone`` when the remote-tracking branch no longer exists (git status's wording)."""
    upstream = upstream_of(repo, branch) if branch else None
    return tracking_against(repo, str(branch), upstream)


def tracking_against(
    repo: Repository, branch: str, upstream: Upstream | None
) -> dict[str, Any] | None:
    """:func:`tracking_state` with a given upstream (git's checkout reports the one a
    branch had before the command, even when it changed it)."""
    if upstream is None:
        return None
    state: dict[str, Any] = {"name": upstream.text(), **upstream.to_dict()}
    theirs = repo.refs.read(upstream.tracking_ref)
    ours = repo.refs.read("refs/heads/" + branch)
    if theirs is None or ours is None:
        return {**state, "gone": theirs is None, "ahead": 0, "behind": 0}
    ahead, behind = ahead_behind(repo.objects.read_commit, ours, theirs)
    return {**state, "gone": False, "ahead": ahead, "behind": behind}
