"""Model sources: the float networks that ``create_model`` accepts besides the zoo's names.

A source is a string with a ``:``, optionally followed by keyword arguments ``?k=v&k2=v2`` (ints,
floats, ``true``/``false``, ``none``, anything else a string):

* ``torchvision:NAME`` -- any torchvision classification model (``torchvision.models.list_models(
  module=torchvision.models)``), built with ``weights=None`` (nothing is ever downloaded) and the
  data's ``num_classes``; for ``in_channels != 3`` its first ``nn.Conv2d`` is replaced by a freshly
  initialised one with that many input channels. googlenet and inception_v3 are built without their
  auxiliary classifiers (``aux_logits=false``) unless the spec says otherwise.
* ``package.module:factory`` -- ``factory`` (a function or an nn.Module class; dotted for a nested
  attribute) of a module imported with ``importlib.import_module`` (installed or on PYTHONPATH).
* ``path/to/file.py:factory`` -- the same, from a Python file (``importlib.util.
  spec_from_file_location``); the file is imported again only when it has changed, and no
  bytecode cache is written beside it.

Importing a module or file runs its code: name only code you trust. A factory is called with the
spec's keyword arguments, plus ``num_classes`` and ``in_channels`` when its signature names them.
:func:`build_float_model` returns the float ``nn.Module``; quanos_hw/convert.py makes it quantizable.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from energy_models.checks import did_you_mean

from ..errors import ModelError

#: keyword arguments that always come from the data, never from a spec
RESERVED = ("num_classes", "in_channels")
#: torchvision builders' own defaults that quanos-hw changes (its training loss needs one output)
TORCHVISION_DEFAULTS = {"googlenet": {"aux_logits": False}, "inception_v3": {"aux_logits": False}}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: one part of a factory's dotted name: an identifier, or a qualified name's ``<locals>``
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|<locals>")


@dataclass(frozen=True)
class ModelSource:
    """A parsed source: ``kind`` torchvision, module or file; ``target`` the torchvision name, module
    path or file path; ``factory`` the attribute to call (None for torchvision); ``kwargs`` pairs."""

    spec: str
    kind: str
    target: str
    factory: str | None
    kwargs: tuple[tuple[str, object], ...] = ()


def is_source(name: object) -> bool:
    """Whether ``name`` is a source string (zoo names never hold a ``:``)."""
    return isinstance(name, str) and ":" in name


def _value(text: str) -> object:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _kwargs(spec: str, query: str) -> tuple[tuple[str, object], ...]:
    pairs: dict[str, object] = {}
    for item in query.split("&"):
        key, eq, text = item.partition("=")
        if not eq or not _IDENTIFIER.fullmatch(key):
            raise ModelError(f"model {spec!r}: keyword arguments after '?' must be name=value pairs joined by '&', "
                             f"got {item!r}")
        if key in pairs:
            raise ModelError(f"model {spec!r}: keyword argument {key!r} is given twice")
        if key in RESERVED:
            raise ModelError(f"model {spec!r}: {key} comes from the data (the dataset, --num-classes, "
                             "--input-shape), not from the spec")
        pairs[key] = _value(text)
    return tuple(pairs.items())


def parse_source(spec: str) -> ModelSource:
    """Parse ``spec`` (syntax only: nothing is imported); a ModelError names what is wrong."""
    head, _, query = spec.partition("?")
    target, _, factory = head.rpartition(":")
    kwargs = _kwargs(spec, query) if query or "?" in spec else ()
    if target == "torchvision":
        if not _IDENTIFIER.fullmatch(factory):
            raise ModelError(f"model {spec!r}: expected torchvision:NAME, e.g. torchvision:resnet18")
        if any(key in ("weights", "progress") for key, _ in kwargs):
            raise ModelError(f"model {spec!r}: torchvision weights are never downloaded; load a state_dict file "
                             "with --weights (config key weights)")
        return ModelSource(spec, "torchvision", factory, None, kwargs)
    if not target or not factory or not all(_ATTRIBUTE.fullmatch(p) for p in factory.split(".")):
        raise ModelError(f"model {spec!r} is not torchvision:NAME, package.module:factory or path/file.py:factory")
    if target.endswith(".py"):
        return ModelSource(spec, "file", target, factory, kwargs)
    if not all(_IDENTIFIER.fullmatch(p) for p in target.split(".")):
        raise ModelError(f"model {spec!r}: {target!r} is neither a module path (package.module) nor a .py file")
    return ModelSource(spec, "module", target, factory, kwargs)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def torchvision_names() -> list[str]:
    from torchvision import models

    return models.list_models(module=models)


def check_source(spec: str) -> ModelSource:
    """:func:`parse_source`, then what is cheap to check without running user code: a torchvision
    name is known, a file exists."""
    source = parse_source(spec)
    if source.kind == "torchvision":
        names = torchvision_names()
        if source.target not in names:
            raise ModelError(f"unknown torchvision model {source.target!r}{did_you_mean(source.target, names)} "
                             "(see torchvision.models.list_models())")
    elif source.kind == "file" and not Path(source.target).is_file():
        raise ModelError(f"model {spec!r}: file {source.target!r} does not exist")
    return source


class _ReadOnlyLoader(importlib.machinery.SourceFileLoader):
    """The standard source loader, except that it writes no bytecode cache (__pycache__) beside the file."""

    def set_data(self, path, data, *, _mode=0o666) -> None:
        return None


def _import_file(source: ModelSource):
    """The module of a .py file, imported once per version of the file (path, modification time, size)."""
    path = Path(source.target).resolve()
    info = path.stat()
    version = f"{path}\0{info.st_mtime_ns}\0{info.st_size}"
    name = "quanos_user_model_" + hashlib.sha256(version.encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path, loader=_ReadOnlyLoader(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as the import system does: the module can import itself (dataclasses, pickle)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        del sys.modules[name]
        raise ModelError(f"model {source.spec!r}: importing {source.target!r} raised {_first_line(exc)}") from None
    return module


def _import_module(source: ModelSource):
    try:
        return importlib.import_module(source.target)
    except ModuleNotFoundError as exc:
        if exc.name and (source.target == exc.name or source.target.startswith(exc.name + ".")):
            raise ModelError(f"model {source.spec!r}: cannot import module {source.target!r} ({_first_line(exc)}); "
                             "install it or put its folder on PYTHONPATH") from None
        raise ModelError(f"model {source.spec!r}: importing {source.target!r} raised {_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise ModelError(f"model {source.spec!r}: importing {source.target!r} raised {_first_line(exc)}") from None


def _factory(source: ModelSource):
    module = _import_file(source) if source.kind == "file" else _import_module(source)
    obj = module
    for part in source.factory.split("."):
        if not hasattr(obj, part):
            known = [n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None))]
            raise ModelError(f"model {source.spec!r}: {source.target!r} has no attribute {source.factory!r}"
                             f"{did_you_mean(part, known)}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"model {source.spec!r}: {source.factory!r} is a {type(obj).__name__}, not a callable")
    return obj


def _accepted(factory, names: dict[str, object]) -> dict[str, object]:
    """The entries of ``names`` that ``factory``'s signature names explicitly."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in names.items() if k in params and params[k].kind is not inspect.Parameter.VAR_KEYWORD}


def _call(source: ModelSource, what: str, build) -> nn.Module:
    try:
        net = build()
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise ModelError(f"model {source.spec!r}: {what} raised {_first_line(exc)}") from None
    if not isinstance(net, nn.Module):
        raise ModelError(f"model {source.spec!r}: {what} returned {type(net).__name__}, not a torch.nn.Module")
    return net


def replace_first_conv(net: nn.Module, in_channels: int, spec: str) -> None:
    """Swap ``net``'s first nn.Conv2d (registration order) for a new one reading ``in_channels``."""
    name, conv = next(((n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)), (None, None))
    if conv is None or conv.groups != 1:
        raise ModelError(f"model {spec!r}: cannot adapt it to {in_channels} input channels (no ordinary first "
                         "nn.Conv2d to replace)")
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                    dilation=conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode)
    parent, _, attr = name.rpartition(".")
    setattr(net.get_submodule(parent), attr, new)


def build_float_model(spec: str, num_classes: int, in_channels: int) -> nn.Module:
    """The float network of source ``spec`` (module docstring), for ``num_classes`` outputs and
    ``in_channels`` input channels."""
    source = check_source(spec)
    kwargs = dict(source.kwargs)
    if source.kind == "torchvision":
        from torchvision import models

        kwargs = {**TORCHVISION_DEFAULTS.get(source.target, {}), **kwargs}
        net = _call(source, f"torchvision.models.{source.target}",
                    lambda: models.get_model(source.target, weights=None, num_classes=num_classes, **kwargs))
        if in_channels != 3:
            replace_first_conv(net, in_channels, spec)
        return net
    factory = _factory(source)
    kwargs.update(_accepted(factory, {"num_classes": num_classes, "in_channels": in_channels}))
    return _call(source, source.factory, lambda: factory(**kwargs))
