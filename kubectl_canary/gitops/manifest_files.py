"""Manifests in files (I/O, offline mode): read the objects of YAML files, write changed values back.

Reading: a file, a directory of `*.yaml`/`*.yml` files, or a directory with a kustomization (its
`resources`, followed into directories). Every document is read with ruamel.yaml's round-trip loader,
which keeps what PyYAML drops: comments, key order, quoting and flow style.

Writing keeps everything the command did not change byte for byte. ruamel re-emits a whole document and
normalises some spellings on the way (a one-key flow mapping in a flow sequence, `[{prefix: /a}]`, comes
out as `[prefix: /a]`), so a changed document is emitted twice, as read and as changed, and only the
lines that differ between those two emissions replace lines of the original text: every other line is
the file's own. A document the command did not change is never re-emitted, nor a file without changes.

New values take the look of what they replace: a new list item (the header route) starts as a copy of
its most similar sibling (the primary route), a new mapping as a copy of an old one of the same shape.
"""

from __future__ import annotations

import datetime
import difflib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from kubectl_canary.errors import CanaryError

Obj = dict[str, Any]
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SEPARATOR = re.compile(r"^---(\s|$)")
# ruamel's indent settings (mapping, sequence, offset) tried on each document until one re-emits it as written.
_INDENTS = [(m, s, o) for m in (2, 4) for s in (2, 4, 6) for o in (0, 2, 4) if o <= s - 2]


def _yaml(indent: tuple[int, int, int] = (2, 4, 2)) -> YAML:
    loader = YAML(typ="rt")
    loader.preserve_quotes = True
    loader.width = 4096  # never fold a long line that was not folded
    loader.brace_single_entry_mapping_in_flow_sequence = True  # `[{prefix: /a}]`, not `[prefix: /a]`
    loader.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return loader


def plain(node: Any) -> Any:
    """ruamel's round-trip node as plain JSON-like data (what the pure core reads)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    return str(node)


@dataclass
class Document:
    """One YAML document of a file: its text (and the `---` line before it), parsed once for editing."""

    separator: str  # the `---` line that starts it, "" for a first document without one
    text: str
    node: Any  # ruamel's round-trip tree; None for an empty document
    changed: Obj | None = None  # the object as the command left it; None: untouched
    removed: bool = False


@dataclass
class ManifestFile:
    """One manifest file as read, its YAML documents, and whether the command makes it."""

    path: Path
    original: str
    documents: list[Document]
    new: bool = False

    def render(self) -> str:
        parts = []
        # The comment heading a file is the file's: it stays when the first document goes (not when all do).
        heading = _leading_comment(self.documents[0].text) if self.documents and self.documents[0].removed else ""
        for document in self.documents:
            if document.removed:
                continue
            text = document.text if document.changed is None else edit_document(document.text, document.node,
                                                                                document.changed)
            separator = document.separator
            if heading:
                parts.append(heading)
                separator, heading = "" if separator == "---\n" else separator, ""
            parts.append(separator + text)
        rendered = "".join(parts)
        return "" if not rendered.strip("-\n ") else rendered


def _leading_comment(text: str) -> str:
    """The comment lines (and blank lines among them) before a document's first content line."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "".join(lines) if any(line.strip() for line in lines) else ""


@dataclass
class Located:
    """An object read from a file: where it is, and the object itself (plain data)."""

    file: ManifestFile
    index: int
    obj: Obj
    namespace: str | None = None  # the namespace its kustomization gives it, when it names none itself


@dataclass
class Manifests:
    """Every object read from the files, and the kustomization that lists them (if any)."""

    root: Path
    files: list[ManifestFile]
    objects: list[Located]
    kustomization: Located | None = None
    kustomize_namespace: str | None = None
    created: list[ManifestFile] = field(default_factory=list)


def split_documents(text: str) -> list[tuple[str, str]]:
    """(separator line, body) per document; the separator of a first document without `---` is ""."""
    documents: list[tuple[str, str]] = []
    separator, body = "", list[str]()
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line):
            if separator or body:
                documents.append((separator, "".join(body)))
            separator, body = line, []
        else:
            body.append(line)
    if separator or body or not documents:
        documents.append((separator, "".join(body)))
    return documents


def read_file(path: Path) -> ManifestFile:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise CanaryError(f"cannot read {path}: {error}") from None
    documents = []
    for separator, body in split_documents(text):
        try:
            node = _yaml().load(body)
        except YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1 + text[: text.find(body)].count(chr(10))})" if mark and body else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise CanaryError(f"{path}: YAML does not parse{where}: {problem}") from None
        documents.append(Document(separator, body, node))
    return ManifestFile(path, text, documents)


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def _kustomization_in(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)


def load(path: Path, *, missing_ok: bool = False) -> Manifests:
    """The objects of `path`: a file, a directory of YAML files, or a kustomization's resources.
    `missing_ok` (init): a path that does not exist yet is an empty directory, made when written."""
    if not path.exists() and missing_ok:
        return Manifests(path, [], [])
    if not path.exists():
        raise CanaryError(f"{path} not found; -f names a manifest file or a directory of them")
    files: list[ManifestFile] = []
    kustomization: Located | None = None
    namespace: str | None = None
    namespaces: dict[Path, str | None] = {}
    if path.is_dir() and (found := _kustomization_in(path)) is not None:
        kustomization_file = read_file(found)
        kustomization = Located(kustomization_file, 0, plain(kustomization_file.documents[0].node) or {})
        namespace = kustomization.obj.get("namespace")
        namespaces = dict(_kustomize_resources(found, namespace, set()))
        files = [kustomization_file, *(read_file(p) for p in namespaces)]
    elif path.is_dir():
        files = [read_file(p) for p in _yaml_files(path)]
    else:
        files = [read_file(path)]
    objects: list[Located] = []
    seen: dict[tuple[str, str, str, str], Path] = {}
    for manifest in files:
        for index, document in enumerate(manifest.documents):
            obj = plain(document.node)
            if not isinstance(obj, dict) or "kind" not in obj or not (obj.get("metadata") or {}).get("name"):
                continue
            if obj.get("kind") == "Kustomization":
                continue
            meta = obj["metadata"]
            given = namespaces.get(manifest.path)
            key = (str(obj.get("apiVersion")), str(obj["kind"]), str(meta.get("namespace") or given or ""),
                   str(meta["name"]))
            if key in seen:
                where = "twice in " + str(manifest.path) if seen[key] == manifest.path else \
                    f"in {seen[key]} and in {manifest.path}"
                raise CanaryError(f"{obj['kind']} {meta['name']} is defined {where}; keep one definition")
            seen[key] = manifest.path
            objects.append(Located(manifest, index, obj, given))
    # Diffs name files from the directory that holds them all (an overlay's bases included).
    root = Path(os.path.commonpath([str(f.path.parent) for f in files])) if files else path
    return Manifests(root, files, objects, kustomization, namespace)


def _kustomize_resources(kustomization: Path, namespace: str | None,
                         visited: set[Path]) -> Iterator[tuple[Path, str | None]]:
    """The files a kustomization's `resources` name (a listed directory's own kustomization followed), each
    with the namespace kustomize gives its objects: the outermost kustomization's `namespace` wins."""
    if kustomization.resolve() in visited:
        return
    visited.add(kustomization.resolve())
    content = plain(read_file(kustomization).documents[0].node) or {}
    namespace = namespace or content.get("namespace")
    for entry in content.get("resources") or []:
        if "://" in str(entry) or str(entry).startswith("git@"):
            continue  # remote bases are not in this checkout
        target = Path(os.path.normpath(kustomization.parent / str(entry)))
        if target.is_dir():
            nested = _kustomization_in(target)
            if nested is None:
                raise CanaryError(f"{kustomization}: resource {entry} is a directory without a kustomization")
            yield nested, namespace
            yield from _kustomize_resources(nested, namespace, visited)
        elif target.is_file():
            yield target, namespace
        else:
            raise CanaryError(f"{kustomization}: resource {entry} not found")


# --- writing values back -------------------------------------------------------------------------------


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _leaves(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v, f"{path}.{k}") for k, v in value.items())) if value else {path + "{}"}
    if isinstance(value, list):
        return set().union(*(_leaves(v, f"{path}[{i}]") for i, v in enumerate(value))) if value else {path + "[]"}
    return {f"{path}={_canon(value)}"}


def _similarity(a: Any, b: Any) -> int:
    """Shared leaves; items that carry names (routes, containers, ports) pair only with their namesake."""
    if isinstance(a, dict) and isinstance(b, dict) and "name" in a and "name" in b and a["name"] != b["name"]:
        return 0
    return len(_leaves(a) & _leaves(b))


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _pool(node: Any, into: list[Any]) -> list[Any]:
    """Every mapping and sequence of a document: style donors for new values."""
    if isinstance(node, (dict, list)):
        into.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _pool(child, into)
    return into


def _scalar(value: Any, donor: Any) -> Any:
    """A new scalar quoted (or written as a `|` / `>` block) as the one it replaces was."""
    styled = (SingleQuotedScalarString, DoubleQuotedScalarString, LiteralScalarString, FoldedScalarString)
    if isinstance(value, str) and isinstance(donor, styled):
        return type(donor)(value)
    return value


def _build(value: Any, donor: Any, pool: list[Any]) -> Any:
    """A new node for `value`, styled as `donor` (or as an old node of the same shape): flow or block
    collections, quoted strings. Built afresh: ruamel's nodes do not survive a deep copy with their comments."""
    if not isinstance(value, (dict, list)):
        return _scalar(value, donor)
    if not (isinstance(donor, dict) and isinstance(value, dict)) and not (
        isinstance(donor, list) and isinstance(value, list)
    ):
        donor = next((n for n in pool if _shape(plain(n)) == _shape(value)), None)
    node: Any
    if isinstance(value, dict):
        node = CommentedMap()
        for key, child in value.items():
            node[key] = _build(child, donor.get(key) if isinstance(donor, dict) else None, pool)
    else:
        node = CommentedSeq()
        for child in value:
            like = max(donor, key=lambda n: _similarity(plain(n), child), default=None) if donor else None
            node.append(_build(child, like, pool))
    if donor is not None and donor.fa.flow_style():
        node.fa.set_flow_style()
    return node


def _flow(node: Any) -> bool:
    return bool(node.fa.flow_style())


def _last_holder(node: Any) -> tuple[Any, Any] | None:
    """(collection, key) of the last line of a block collection: where ruamel hangs the blank lines and
    comments that follow it (they belong to what comes next, not to that last value)."""
    while isinstance(node, (dict, list)) and len(node) and not _flow(node):
        key = list(node)[-1] if isinstance(node, dict) else len(node) - 1
        value = node[key]
        if not isinstance(value, (dict, list)) or _flow(value) or not len(value):
            return node, key
        node = value
    return None


def _post_comment(holder: tuple[Any, Any]) -> tuple[list[Any] | None, int]:
    node, key = holder
    slots = node.ca.items.get(key)
    return slots, (2 if isinstance(node, dict) else 0)


def _tail(holder: tuple[Any, Any] | None) -> str:
    """The lines after the holder's own line that ruamel keeps in its comment: blank lines, comments."""
    if holder is None:
        return ""
    slots, at = _post_comment(holder)
    token = slots[at] if slots else None
    value = getattr(token, "value", "") or ""
    return value[value.index("\n") + 1:] if "\n" in value else ""


def _move_tail(before: tuple[Any, Any] | None, tail: str, node: Any) -> None:
    """Keep the blank lines and comments after a collection where they were when its last item changed."""
    after = _last_holder(node)
    if not tail or before is None or after is None or (after[0] is before[0] and after[1] == before[1]):
        return
    old_slots, at = _post_comment(before)
    key_still_there = before[1] in before[0] if isinstance(before[0], dict) else before[1] < len(before[0])
    if key_still_there and old_slots and old_slots[at] is not None and old_slots[at].value.endswith(tail):
        old_slots[at].value = old_slots[at].value[: len(old_slots[at].value) - len(tail)]
    elif key_still_there:
        return  # moved already by the patch of a nested collection
    slots, at = _post_comment(after)
    if slots and slots[at] is not None:
        slots[at].value = slots[at].value + tail
        return
    if slots is None:
        slots = [None] * 4
        after[0].ca.items[after[1]] = slots
    slots[at] = CommentToken("\n" + tail, CommentMark(0))


def _patch(node: Any, old: Any, new: Any, pool: list[Any]) -> None:
    """Change `node` (read as `old`) in place so that it reads as `new`, touching only what differs."""
    holder = _last_holder(node)
    tail = _tail(holder)
    _patch_items(node, old, new, pool)
    _move_tail(holder, tail, node)


def _patch_items(node: Any, old: Any, new: Any, pool: list[Any]) -> None:
    if isinstance(node, dict):
        for key in [k for k in node if str(k) not in new]:
            del node[key]
        for position, (key, value) in enumerate(new.items()):
            if key not in node:
                node.insert(position, key, _build(value, None, pool))  # type: ignore[attr-defined]
            elif old.get(key) != value:
                child = node[key]
                if type(plain(child)) is type(value) and isinstance(value, (dict, list)):
                    _patch(child, old[key], value, pool)
                else:
                    node[key] = _build(value, child, pool)
        return
    old_items, new_items = list(old), list(new)
    pairs = _align(old_items, new_items)
    items: list[Any] = []
    for j, value in enumerate(new_items):
        i = pairs.get(j)
        if i is None:
            donor = max(node, key=lambda n: _similarity(plain(n), value), default=None)
            items.append(_build(value, donor, pool))
        else:
            child = node[i]
            if old_items[i] != value:
                if isinstance(child, (dict, list)) and type(plain(child)) is type(value):
                    _patch(child, old_items[i], value, pool)
                else:
                    child = _build(value, child, pool)
            items.append(child)
    comments = getattr(node, "ca", None)
    node[:] = items
    if comments is not None and comments.items:
        # Comments hang on positions: move each with its item, drop those of removed items.
        kept = {j: comments.items[i] for j, i in pairs.items() if i in comments.items}
        comments.items.clear()
        comments.items.update(kept)


def _align(old: list[Any], new: list[Any]) -> dict[int, int]:
    """Pairs (new index -> old index) in order, maximising shared leaves: equal items pair first."""
    n, m = len(old), len(new)
    score = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            similar = _similarity(old[i], new[j])
            pair = (10**6 if old[i] == new[j] else similar) + score[i + 1][j + 1] if similar else -1
            score[i][j] = max(score[i + 1][j], score[i][j + 1], pair)
    pairs: dict[int, int] = {}
    i = j = 0
    while i < n and j < m:
        similar = _similarity(old[i], new[j])
        pair = (10**6 if old[i] == new[j] else similar) + score[i + 1][j + 1] if similar else -1
        if pair == score[i][j]:
            pairs[j] = i
            i, j = i + 1, j + 1
        elif score[i + 1][j] == score[i][j]:
            i += 1
        else:
            j += 1
    return pairs


def _line_comments(node: Any, into: list[tuple[Any, Any, str, int, Any]]) -> list[tuple[Any, Any, str, int, Any]]:
    """(key, value, comment, column, mapping) of every `key: value  # comment` line under `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            slots = node.ca.items.get(key) if hasattr(node, "ca") else None
            token = slots[2] if slots and len(slots) > 2 else None
            text = getattr(token, "value", "") or ""
            if text.lstrip(" ").startswith("#"):
                into.append((key, plain(value), text.split("\n")[0].lstrip(" "), getattr(token, "column", 0), node))
            _line_comments(value, into)
    elif isinstance(node, list):
        for item in node:
            _line_comments(item, into)
    return into


def _carry_comments(read: Any, edited: Any) -> list[str]:
    """A comment on a line whose key and value the change moved elsewhere (`subset: ...  # stable` from a
    single destination into the first of the weighted ones) goes with them, where the same key and value
    are on a line without a comment of its own."""
    kept = {comment for *_, comment, _, _ in _line_comments(edited, [])}
    lost = [(key, value, comment, column) for key, value, comment, column, _ in _line_comments(read, [])
            if comment not in kept]
    if not lost:
        return []
    carried = []
    lines = _line_comments(edited, [])
    free = [(key, value, mapping) for key, value, mapping in _entries(edited, [])
            if not any(m is mapping and k == key for k, _, _, _, m in lines)]
    for key, value, comment, _ in lost:
        home = next(((k, m) for k, v, m in free if k == key and v == value), None)
        if home is None:
            continue
        home[1].ca.items.setdefault(home[0], [None, None, None, None])[2] = CommentToken(
            comment + "\n", CommentMark(0))
        free = [(k, v, m) for k, v, m in free if not (m is home[1] and k == home[0])]
        carried.append(comment)
    return carried


def _entries(node: Any, into: list[tuple[Any, Any, Any]]) -> list[tuple[Any, Any, Any]]:
    """(key, value, mapping) of every mapping entry whose value ends its line (scalar or flow collection)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(value, (dict, list)) or _flow(value):
                into.append((key, plain(value), node))
            else:
                _entries(value, into)
    elif isinstance(node, list):
        for item in node:
            _entries(item, into)
    return into


def _emit(node: Any, indent: tuple[int, int, int]) -> str:
    out = io.StringIO()
    _yaml(indent).dump(node, out)
    return out.getvalue()


def _indent_of(text: str, node: Any) -> tuple[tuple[int, int, int], str]:
    """ruamel's indent settings that re-emit `text` most faithfully, and that emission."""
    best: tuple[int, tuple[int, int, int], str] | None = None
    for indent in _INDENTS:
        emitted = _emit(node, indent)
        if emitted == text:
            return indent, emitted
        if emitted.count("\n") == text.count("\n"):
            differing = sum(a != b for a, b in zip(emitted.splitlines(), text.splitlines()))
            if best is None or differing < best[0]:
                best = (differing, indent, emitted)
    if best is None:
        raise CanaryError("cannot keep the layout")
    return best[1], best[2]


def edit_document(text: str, node: Any, desired: Obj) -> str:
    """`text` (parsed as `node`) changed to read as `desired`: only the lines that differ are new."""
    try:
        indent, as_read = _indent_of(text, node)
    except CanaryError:
        indent, as_read = (2, 4, 2), text
    edited = _yaml().load(text)  # a fresh tree: ruamel's trees do not survive copy.deepcopy intact
    _patch(edited, plain(node), desired, _pool(node, []))
    carried = _carry_comments(node, edited)
    as_changed = _emit(edited, indent)
    for comment in carried:  # ruamel puts a moved comment one space after its value: keep the file's gap
        gap = next((len(m.group(1)) for m in re.finditer(rf"\S( +){re.escape(comment)}$", text, re.M)), 1)
        as_changed = re.sub(rf"(?<=\S) +{re.escape(comment)}$", " " * gap + comment, as_changed, flags=re.M)
    if as_read.count("\n") != text.count("\n"):
        return as_changed  # the layout could not be matched line by line: the whole document as ruamel writes it
    read_lines, own_lines, changed_lines = (
        as_read.splitlines(keepends=True),
        text.splitlines(keepends=True),
        as_changed.splitlines(keepends=True),
    )
    result: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, read_lines, changed_lines, autojunk=False).get_opcodes():
        result.extend(own_lines[i1:i2] if tag == "equal" else changed_lines[j1:j2])
    return "".join(result)


def new_document(obj: Obj, indent: tuple[int, int, int], like: Any = None) -> str:
    """A new object's document, styled as `like` (the object it was cloned from), without its comments."""
    return _emit(_build(obj, like, _pool(like, [])), indent)


def layout_of(manifest: ManifestFile) -> tuple[int, int, int]:
    """The indent settings of a file's first document that ruamel re-emits as written (new files copy it)."""
    for document in manifest.documents:
        if isinstance(document.node, dict):
            try:
                return _indent_of(document.text, document.node)[0]
            except CanaryError:
                break
    return (2, 4, 2)


@dataclass(frozen=True)
class FileChange:
    """A file's text before and after a command (None: absent)."""

    path: Path
    before: str | None  # None: a new file
    after: str | None  # None: the file is deleted (every object in it was)

    def diff(self, relative_to: Path) -> str:
        try:
            name = str(self.path.relative_to(relative_to))
        except ValueError:
            name = str(self.path)
        lines = difflib.unified_diff(
            (self.before or "").splitlines(keepends=True),
            (self.after or "").splitlines(keepends=True),
            "/dev/null" if self.before is None else f"a/{name}",
            "/dev/null" if self.after is None else f"b/{name}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def changes_of(files: list[ManifestFile]) -> list[FileChange]:
    """What writing would change, file by file; files that would keep their bytes are left out."""
    changes = []
    for manifest in files:
        after = manifest.render()
        before = None if manifest.new else manifest.original
        if after == before:
            continue
        changes.append(FileChange(manifest.path, before, after if after or manifest.new else None))
    return changes


def write(changes: list[FileChange]) -> None:
    """Write every change; each file is replaced whole (a temporary file renamed over it)."""
    for change in changes:
        if change.after is None:
            change.path.unlink()
            continue
        change.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = change.path.with_name(f".{change.path.name}.kubectl-canary")
        temporary.write_text(change.after)
        if change.before is not None:
            os.chmod(temporary, change.path.stat().st_mode & 0o7777)
        os.replace(temporary, change.path)
