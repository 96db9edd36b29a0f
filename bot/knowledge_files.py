"""Reading knowledge files so that no file can hang, flood or exhaust the bot.

A knowledge directory is written by people (a coach, a script, a mounted volume), so it is read
as untrusted input, with bounds that sit far above anything a real knowledge base needs:

* Only regular files are read, opened without blocking and checked on the open descriptor: a
  FIFO, a device (``/dev/zero``), a socket or a directory named ``*.yaml`` is refused, never
  waited on. Symbolic links are followed only while they stay inside the knowledge directory
  (a Kubernetes ConfigMap mount is links within it); one leading out of it is refused.
* A file may hold :data:`MAX_FILE_BYTES` and :data:`MAX_FILE_VALUES` YAML values, all files
  together :data:`MAX_TOTAL_BYTES` and :data:`MAX_TOTAL_VALUES`, and a record folder
  :data:`MAX_RECORD_FILES` files.
* YAML is read by PyYAML's safe loader, extended through its own classes (libyaml's parser
  when PyYAML has it, PyYAML's composer and safe constructor): aliases (``*name``) are refused,
  which is what makes an alias bomb ("billion laughs") impossible, nesting stops at
  :data:`MAX_DEPTH`, and a key given twice in one mapping is an error instead of the last one
  silently winning.

Every refusal is a :class:`Unreadable` whose message says what is wrong with the file, for the
problem list of ``fitbot kb check``.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node
from yaml.resolver import Resolver

from bot.errors import short_repr

MAX_FILE_BYTES = 1 << 20  # 1 MiB; the largest shipped file is 25 KB
MAX_TOTAL_BYTES = 8 << 20  # 8 MiB; the whole shipped knowledge base is 170 KB
MAX_RECORD_FILES = 1000  # per record folder; 18 are shipped
MAX_DEPTH = 32  # nesting of YAML collections; knowledge files use 5
# YAML values (scalars and collections): a file of "[1,1,1,...]" is small in bytes but costly
# to build and to validate. The largest shipped file has 1,807, all of them 6,000.
MAX_FILE_VALUES = 50_000
MAX_TOTAL_VALUES = 200_000


@dataclass(frozen=True)
class Limits:
    """What a whole knowledge directory may hold. The defaults are the bot's; a benchmark of
    a generated base ten times larger than any coach's (``benchmarks.bench_engine``) lifts
    them, the per-file limits stay."""

    total_bytes: int = MAX_TOTAL_BYTES
    total_values: int = MAX_TOTAL_VALUES
    record_files: int = MAX_RECORD_FILES


DEFAULT_LIMITS = Limits()
RECORD_PATTERN = "*.y*ml"
MERGE_TAG = "tag:yaml.org,2002:merge"
# Non-blocking: opening a FIFO for reading would otherwise wait for a writer, forever.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class Unreadable(Exception):
    """A knowledge file that is refused; the message says why (for a :class:`Problem`)."""


class TooManyValues(ComposerError):
    """A YAML document holds more values than :class:`KnowledgeLoader` may build."""


class Reader:
    """Reads the files of one knowledge directory within the bounds above.

    ``read`` counts every byte against the directory's budget, so a directory of many large
    files is refused once :data:`MAX_TOTAL_BYTES` are spent.
    """

    def __init__(self, root: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = root.resolve()
        self.limits = limits
        self.remaining = limits.total_bytes
        self.values_left = limits.total_values

    def load(self, path: Path) -> object:
        """The YAML data of ``path``, read as :meth:`read` reads it and parsed by
        :class:`KnowledgeLoader` within the directory's budget of values."""
        text = self.read(path)
        limit = min(MAX_FILE_VALUES, self.values_left)
        loader = KnowledgeLoader(text, limit)
        try:
            return loader.get_single_data()
        except TooManyValues:
            if limit < MAX_FILE_VALUES:
                raise Unreadable(
                    f"would take the knowledge directory over {self.limits.total_values:,} "
                    "YAML values; "
                    "refused"
                ) from None
            raise Unreadable(f"has more than {MAX_FILE_VALUES:,} YAML values; refused") from None
        finally:
            self.values_left -= loader.values
            loader.dispose()

    def read(self, path: Path) -> str:
        """The text of ``path``; :class:`Unreadable` if it is not a small regular UTF-8 file
        inside the directory, :class:`FileNotFoundError` if it does not exist."""
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            raise
        except RuntimeError:  # Python before 3.13 says so for a loop of links
            raise Unreadable("cannot be read: a loop of symbolic links") from None
        except OSError as exc:
            raise Unreadable(f"cannot be read: {_reason(exc)}") from None
        if not real.is_relative_to(self.root):
            raise Unreadable("is a link to a file outside the knowledge directory; refused")
        try:
            fd = os.open(real, _READ_FLAGS)
        except OSError as exc:
            raise Unreadable(f"cannot be read: {_reason(exc)}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable("is not a regular file (a FIFO, device or directory?); refused")
            limit = min(MAX_FILE_BYTES, self.remaining)
            if info.st_size > limit:
                raise Unreadable(self._too_big(info.st_size))
            data = _read_up_to(fd, limit + 1)  # the file may have grown since fstat
        except OSError as exc:
            raise Unreadable(f"cannot be read: {_reason(exc)}") from None
        finally:
            os.close(fd)
        if len(data) > limit:
            raise Unreadable(self._too_big(len(data)))
        self.remaining -= len(data)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unreadable(f"is not UTF-8 text (byte {exc.start})") from None

    def record_files(self, folder: Path) -> tuple[list[Path], bool]:
        """The ``*.yaml``/``*.yml`` files of ``folder`` in name order, at most
        :data:`MAX_RECORD_FILES`; True as well if there were more."""
        if not folder.is_dir():
            return [], False
        found: list[str] = []
        more = False
        with os.scandir(folder) as entries:
            for entry in entries:
                if fnmatch.fnmatchcase(entry.name, RECORD_PATTERN):
                    if len(found) == self.limits.record_files:
                        more = True
                        break
                    found.append(entry.name)
        return [folder / name for name in sorted(found)], more

    def _too_big(self, size: int) -> str:
        if size > MAX_FILE_BYTES:
            return f"is larger than {MAX_FILE_BYTES:,} bytes; refused"
        return (
            f"would take the knowledge directory over {self.limits.total_bytes:,} bytes; refused"
        )


def parse(text: str) -> object:
    """YAML ``text`` parsed as the knowledge files are (no aliases, no duplicate keys, at most
    :data:`MAX_FILE_VALUES` values), for tools that read a file the user names."""
    loader = KnowledgeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_up_to(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


# -- YAML ------------------------------------------------------------------------------------

_Base: Any = yaml.SafeLoader  # pure Python, when PyYAML was built without libyaml
if not TYPE_CHECKING and yaml.__with_libyaml__:
    from yaml.cyaml import CParser

    class _Base(Composer, CParser, SafeConstructor, Resolver):
        """libyaml's parser (ten times faster) under PyYAML's own composer and safe
        constructor, whose methods :class:`KnowledgeLoader` extends (libyaml's own composer
        cannot be extended)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


class KnowledgeLoader(_Base):  # type: ignore[misc]
    """PyYAML's safe loader without aliases, deep nesting or duplicate keys."""

    def __init__(self, stream: str, max_values: int = MAX_FILE_VALUES) -> None:
        super().__init__(stream)
        self._depth = 0
        self._max_values = max_values
        self.values = 0

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        """Refuse an alias, a collection nested too deep and one value too many, before
        anything is built."""
        self.values += 1
        if self.values > self._max_values:
            raise TooManyValues(None, None, "too many values", self.peek_event().start_mark)
        if self.check_event(AliasEvent):
            raise ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in knowledge files; write the value out",
                self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            node: Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """A mapping, or an error naming a key that appears twice in it."""
        if isinstance(node, MappingNode):
            first_seen: dict[Hashable, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = first_seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: the safe constructor reports it
                if first is not key_node:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {short_repr(key)} (first given at line "
                        f"{first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep)
        return mapping
