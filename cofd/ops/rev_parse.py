"""``rev-parse``: what revisions and the repository's paths are, for scripts.

Revisions are parsed as everywhere else (:mod:`cofd.ops.revisions`), with two
differences that git's ``rev-parse`` makes:

- a tag's name gives the tag's own object (an annotated tag's id, not its commit's),
  and a tag object's id (or a unique prefix of it) is accepted back;
- ``REV^{commit}`` and ``REV^{}`` peel a tag to its commit, ``REV^{tree}`` gives the
  commit's tree, ``REV^{tag}`` insists on a tag, ``REV^{object}`` is ``REV``.

Terms: an *abbreviation* is the shortest prefix of an id, at least as long as asked,
that no other stored id (of any block, objects and file data alike) starts with; a
*full name* is the ref a revision names (``refs/heads/main``), a *short name* the
shortest form of it that names no other ref (git's strict ``--abbrev-ref``).
"""

from __future__ import annotations

import re
from typing import Any

from cofd.ops.api import OpContext, op
from cofd.ops.repository import Repository
from cofd.ops.revisions import (
    MIN_PREFIX,
    REF_PREFIXES,
    expand_previous,
    full_ref,
    ids_with_prefix,
    refs_named,
    resolve,
)
from cofd.ops.show_blob import named_entry, split_object_name
from cofd.store.ids import ID_LEN
from protocol.errors import PathError, RevisionError, UsageError

_PEEL = re.compile(r"^(?P<rev>.+)\^\{(?P<kind>[a-z]*)\}$")
_PEEL_KINDS = ("", "commit", "tree", "tag", "object")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
NAME_FORMS = ("full", "abbrev")  # --symbolic-full-name, --abbrev-ref


def object_named(repo: Repository, rev: str) -> bytes:
    """The id of the object ``rev`` names, as git's ``rev-parse`` gives it (see the
    module's docstring), or ``RevisionError``."""
    match = _PEEL.match(rev)
    base, kind = (match["rev"], match["kind"]) if match else (rev, "object")
    if kind not in _PEEL_KINDS:
        raise RevisionError(f"unknown revision '{rev}': cannot peel to '{kind}'")
    found = _unpeeled(repo, base)
    if kind == "object":
        return found
    if kind == "tag":
        if repo.objects.kind_of(found) != "tag":
            raise RevisionError(f"unknown revision '{rev}': {base} is not an annotated tag")
        return found
    commit = repo.objects.peel(found)
    return repo.objects.read_commit(commit).tree if kind == "tree" else commit


def _unpeeled(repo: Repository, rev: str) -> bytes:
    """What a ref holds (a tag's object, for a tag) when ``rev`` is a ref's name;
    else the commit it names; else the tag object whose id it is (a prefix of)."""
    ref = full_ref(repo, rev)
    if ref is not None and ref != "HEAD":
        value = repo.refs.read(ref)
        if value is not None:
            return value
    try:
        return resolve(repo, rev)
    except RevisionError:
        tag = _tag_with_id(repo, rev)
        if tag is None:
            raise
        return tag


def _tag_with_id(repo: Repository, text: str) -> bytes | None:
    """The one annotated tag a ref holds whose id starts with ``text``, if any: tag
    objects are reached only through refs, so no index scan is needed."""
    if len(text) < MIN_PREFIX or len(text) > ID_LEN * 2 or not _HEX.match(text):
        return None
    prefix = text.lower()
    tags = {
        value
        for _, value in repo.refs.iter_refs()
        if value.hex().startswith(prefix) and repo.objects.peel(value) != value
    }
    return tags.pop() if len(tags) == 1 else None


def full_names(repo: Repository, rev: str) -> list[str]:
    """The refs ``rev`` could name (``HEAD``: its branch, or ``HEAD`` when detached):
    none for an id or ``HEAD~1``, more than one for an ambiguous name."""
    if rev in ("HEAD", "@"):
        return [repo.refs.head_target() or "HEAD"]
    return list(refs_named(repo, expand_previous(repo, rev) if rev.startswith("@{-") else rev))


def short_name(repo: Repository, ref: str) -> str:
    """``ref`` without the longest of git's prefixes that leaves a name naming it
    alone (``refs/heads/x`` is ``heads/x`` while a tag ``x`` exists), as git's
    ``--abbrev-ref`` (strict, its default)."""
    for prefix in reversed(REF_PREFIXES):
        if ref.startswith(prefix) and len(ref) > len(prefix):
            short = ref[len(prefix) :]
            if list(refs_named(repo, short)) == [ref]:
                return short
    return ref


def abbreviation(repo: Repository, object_id: bytes, length: int) -> str:
    """The shortest prefix of ``object_id``, at least ``length`` digits (clamped to
    ``MIN_PREFIX``..the whole id), that no other stored id starts with."""
    text = object_id.hex()
    for n in range(max(MIN_PREFIX, min(length, len(text))), len(text)):
        if len(ids_with_prefix(repo, text[:n], limit=2)) <= 1:
            return text[:n]
    return text


def _revision_line(
    ctx: OpContext,
    repo: Repository,
    rev: str,
    names: str | None,
    short: int | None,
    warnings: list[str],
) -> str | None:
    if split_object_name(rev) is not None:  # REV:PATH, :PATH: an entry's id, as git
        try:
            found: bytes = named_entry(ctx, repo, rev).id
        except PathError as exc:  # an invalid revision to rev-parse (-q --verify: quiet)
            raise RevisionError(exc.message) from None
    else:
        found = object_named(repo, rev)  # also checks that a rev asked by name is valid
    if names is None:
        return abbreviation(repo, found, short) if short is not None else found.hex()
    refs = full_names(repo, rev)
    if len(refs) > 1:
        warnings.append(f"refname '{rev}' is ambiguous")
    if len(refs) != 1:
        return None
    return short_name(repo, refs[0]) if names == "abbrev" else refs[0]


def _where(ctx: OpContext, repo: Repository) -> dict[str, Any]:
    """The repository's paths as seen from the client's directory."""
    cwd = ctx.cwd.resolve()
    in_cof = cwd == repo.cof_dir or repo.cof_dir in cwd.parents
    prefix = "" if in_cof or cwd == repo.root else cwd.relative_to(repo.root).as_posix() + "/"
    return {
        "toplevel": None if in_cof else str(repo.root),
        "prefix": prefix,
        "cof_dir": str(repo.cof_dir),
        "inside_work_tree": not in_cof,
    }


@op("rev_parse", writes=False)
def rev_parse(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Params: ``revs``; ``verify`` (exactly one rev); ``names`` (None, ``full`` or
    ``abbrev``: the ref each rev names rather than its id); ``short`` (abbreviate ids
    to at least this many digits). Returns ``revs`` (one line each, None for a rev
    that names no ref, or more than one, when names are asked), ``warnings`` (the
    ambiguous ones) and the repository's paths: ``toplevel`` (None inside ``.cof``),
    ``prefix``, ``cof_dir``, ``inside_work_tree``."""
    repo = ctx.require_repo()
    revs = params.get("revs") or []
    names, short = params.get("names"), params.get("short")
    if not all(isinstance(r, str) for r in revs):
        raise UsageError("revisions must be strings")
    if names is not None and names not in NAME_FORMS:
        raise UsageError(f"unknown name form {names!r}")
    if short is not None and (not isinstance(short, int) or isinstance(short, bool)):
        raise UsageError("--short expects a number")
    if params.get("verify") and len(revs) != 1:
        raise RevisionError("needed a single revision")
    warnings: list[str] = []
    lines = [_revision_line(ctx, repo, rev, names, short, warnings) for rev in revs]
    return {"revs": lines, "warnings": warnings, **_where(ctx, repo)}
