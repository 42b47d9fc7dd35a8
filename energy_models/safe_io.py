"""Strict readers for user input files and a strict JSON writer.

Every input file goes through :func:`read_input_text` (a regular file, bounded in size, UTF-8) and
then :func:`load_json_strict` or :func:`load_yaml_strict`, which refuse what the standard parsers
silently accept: duplicate keys (the last one would win), NaN and Infinity, integers of hundreds
of digits, nesting deep enough to exhaust the stack, YAML tags that name Python objects and alias
bombs ("billion laughs"). Every refusal is an :class:`~energy_models.errors.InputError` naming the
file. :func:`dumps_strict` is the writer's side: JSON that a strict parser reads back.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from .errors import InputError

#: input files larger than this are refused before reading (configs and tables are kilobytes)
MAX_INPUT_BYTES = 4 * 1024 * 1024
#: deepest nesting of lists/objects accepted in an input file
MAX_DEPTH = 64
#: longest integer literal accepted (digits)
MAX_INT_DIGITS = 100
#: most YAML nodes after expanding aliases (a "billion laughs" document expands to 10**9)
MAX_YAML_NODES = 100_000


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_input_text(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The text of the regular file ``path`` (``what`` names it in errors, e.g. "bit configuration").

    Directories, FIFOs and devices are refused without blocking (the file is opened non-blocking
    and checked with fstat before any read), files over ``max_bytes`` are refused before reading,
    and the bytes must be UTF-8 (a leading byte-order mark is dropped)."""
    name = f"{what} {str(path)!r}"
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        mode = os.stat(path).st_mode  # a FIFO or a device is refused without being opened
        if not stat.S_ISREG(mode):
            raise InputError(f"{name} is {_kind(mode)}, not a regular file")
        fd = os.open(path, flags)  # non-blocking: a file swapped for a FIFO meanwhile cannot hang
    except FileNotFoundError:
        raise InputError(f"{name} does not exist") from None
    except OSError as exc:
        raise InputError(f"{name} cannot be opened: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{name} is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise InputError(f"{name} is {info.st_size} bytes; input files are limited to {max_bytes} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{name} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew after fstat, or a special file reporting size 0
        raise InputError(f"{name} is over {max_bytes} bytes; input files are limited to {max_bytes} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _check_depth(value: object, origin: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (iteratively: a deep value cannot exhaust the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise _too_deep(origin)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _too_deep(origin: str) -> InputError:
    return InputError(f"{origin} is nested more than {MAX_DEPTH} levels deep")


def _check_int_text(text: str, origin: str) -> None:
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise InputError(f"{origin} holds an integer of {digits} digits; at most {MAX_INT_DIGITS} are accepted")


def load_json_strict(text: str, origin: str) -> object:
    """Parse JSON ``text`` (``origin`` names it in errors, e.g. "bit configuration 'b.json'")."""

    def pairs(items: list[tuple[str, object]]) -> dict:
        out: dict = {}
        for key, value in items:
            if key in out:
                raise InputError(f"{origin} has the key {key!r} twice in one object")
            out[key] = value
        return out

    def constant(name: str) -> float:
        raise InputError(f"{origin} holds {name}; only finite numbers are accepted")

    def integer(token: str) -> int:
        _check_int_text(token, origin)
        return int(token)

    def real(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise InputError(f"{origin} holds {token}, which is not a finite number")
        return value

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_int=integer,
                           parse_float=real)
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise _too_deep(origin) from None
    _check_depth(value, origin)
    return value


def _strict_loader(origin: str):
    """A yaml.SafeLoader subclass for one document (imported lazily: PyYAML only when YAML is read)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        depth = 0

        def fetch_flow_collection_start(self, TokenClass):
            # the scanner reads a flow collection ahead to its end: stop "[[[[..." while scanning
            if self.flow_level >= MAX_DEPTH:
                raise _too_deep(origin)
            super().fetch_flow_collection_start(TokenClass)

        def compose_node(self, parent, index):
            # bound the (recursive) composer at once, before the rest of a deep document is read
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH + 1:  # + 1: the scalars inside the deepest allowed list
                    raise _too_deep(origin)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                    except TypeError:
                        continue  # an unhashable key: the base class reports it
                    if duplicate:
                        raise InputError(f"{origin} has the key {key!r} twice in one mapping "
                                         f"(line {key_node.start_mark.line + 1})")
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node):
            _check_int_text(str(node.value).replace("_", ""), origin)
            return super().construct_yaml_int(node)

        def construct_yaml_float(self, node):
            value = super().construct_yaml_float(node)
            if not math.isfinite(value):
                raise InputError(f"{origin} holds {node.value} (line {node.start_mark.line + 1}); only finite "
                                 "numbers are accepted")
            return value

        def get_single_data(self):
            node = self.get_single_node()
            if node is None:
                return None
            _check_yaml_nodes(node, origin)
            return self.construct_document(node)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
    return StrictLoader


def _check_yaml_nodes(root, origin: str) -> None:
    """Refuse recursive aliases, nesting deeper than MAX_DEPTH and documents that expand (aliases
    followed) to more than MAX_YAML_NODES nodes, before anything is constructed."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_NODES:
                raise InputError(f"{origin} expands to more than {MAX_YAML_NODES} values through its aliases "
                                 "(&anchor / *alias)")
            continue
        if key in open_nodes:
            raise InputError(f"{origin} holds a recursive alias (an anchor used inside itself)")
        if children and depth > MAX_DEPTH:
            raise _too_deep(origin)
        if key in sizes:
            continue
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def load_yaml_strict(text: str, origin: str) -> object:
    """Parse one YAML document with the safe loader (no Python tags) and the checks above."""
    import yaml

    try:
        value = yaml.load(text, Loader=_strict_loader(origin))  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{origin} cannot be parsed as YAML: {problem}{where}") from None
    except RecursionError:
        raise _too_deep(origin) from None
    _check_depth(value, origin)  # an alias can nest a shallow anchor deeper
    return value


class NonFiniteJSONError(ValueError):
    """A value that strict JSON cannot hold (NaN, Infinity) in data the tool was about to write."""


def _non_finite_path(value: object, path: str = "$") -> str | None:
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{where} = {item}"
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


def dumps_strict(obj: object, **kwargs) -> str:
    """``json.dumps`` that never writes NaN or Infinity (not JSON): it raises NonFiniteJSONError
    naming the first offending value instead (e.g. ``$.models.quanos.loss = nan``)."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError as exc:
        where = _non_finite_path(obj)
        if where is None:
            raise
        raise NonFiniteJSONError(f"refusing to write a non-finite number as JSON: {where}") from exc
