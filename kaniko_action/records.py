"""Plain value classes, declared like dataclasses, that cost nothing to define.

The action runs as a fresh interpreter in every workflow step, so its import time is part of
every build. `dataclasses` costs about 14 ms to import (it loads `inspect`) and about 0.5 ms
per class to define (it generates methods with `exec`): some 30 ms for this package, a fifth of
the fixed cost of a small build. `record` gives the same declarations (annotated fields,
defaults, `field(default=..., default_factory=..., repr=False, compare=False)`, `frozen`, `order`) with
methods shared by every class instead of generated per class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_kwargs: object) -> Callable[[object], object]:
        return lambda f: f


T = TypeVar("T")
_NOTHING: Any = object()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record."""


class _Field:
    __slots__ = ("compare", "default", "factory", "repr")

    def __init__(
        self, default: Any, factory: Callable[[], Any] | None, repr: bool, compare: bool
    ) -> None:
        self.default = default
        self.factory = factory
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _NOTHING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field's options, as `dataclasses.field` takes them."""
    return _Field(default, default_factory, repr, compare)


class _Spec:
    __slots__ = ("compared", "defaults", "factories", "names", "shown")

    def __init__(self, cls: type) -> None:
        self.names: tuple[str, ...] = ()
        self.defaults: dict[str, Any] = {}
        self.factories: dict[str, Callable[[], Any]] = {}
        shown: list[str] = []
        compared: list[str] = []
        names: list[str] = []
        # The class's own annotations (inspect.get_annotations would load inspect).
        for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
            declared = cls.__dict__.get(name, _NOTHING)
            options = declared if isinstance(declared, _Field) else None
            if options is not None:
                if options.factory is not None:
                    self.factories[name] = options.factory
                elif options.default is not _NOTHING:
                    self.defaults[name] = options.default
                if options.default is _NOTHING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, options.default)
            elif declared is not _NOTHING:
                self.defaults[name] = declared
            names.append(name)
            if options is None or options.repr:
                shown.append(name)
            if options is None or options.compare:
                compared.append(name)
        self.names = tuple(names)
        self.shown = tuple(shown)
        self.compared = tuple(compared)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    spec: _Spec = type(self).__record__
    if len(args) > len(spec.names):
        raise TypeError(f"{type(self).__name__}() takes {len(spec.names)} arguments")
    for name, arg in zip(spec.names, args):
        object.__setattr__(self, name, arg)
    for name in spec.names[len(args) :]:
        if name in kwargs:
            object.__setattr__(self, name, kwargs.pop(name))
        elif name in spec.factories:
            object.__setattr__(self, name, spec.factories[name]())
        elif name in spec.defaults:
            object.__setattr__(self, name, spec.defaults[name])
        else:
            raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got unexpected arguments {sorted(kwargs)}")
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _key(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, n) for n in type(self).__record__.compared)


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__record__.shown)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) == _key(other)


def _hash(self: Any) -> int:
    return hash(_key(self))


def _frozen_setattr(self: Any, name: str, _value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _ordering(op: Callable[[tuple[Any, ...], tuple[Any, ...]], bool]) -> Callable[[Any, Any], Any]:
    def compare(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return op(_key(self), _key(other))

    return compare


_ORDER = {
    "__lt__": _ordering(lambda a, b: a < b),
    "__le__": _ordering(lambda a, b: a <= b),
    "__gt__": _ordering(lambda a, b: a > b),
    "__ge__": _ordering(lambda a, b: a >= b),
}


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, frozen: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: type[T] | None = None, /, *, frozen: bool = False, order: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """Give `cls` an __init__ over its annotated fields, __repr__, __eq__, and for frozen
    records __hash__ and no assignment; `order` adds <, <=, >, >= over the fields."""

    def make(target: type[T]) -> type[T]:
        own = target.__dict__
        methods: dict[str, Any] = {"__record__": _Spec(target), "__init__": _init}
        if "__repr__" not in own:
            methods["__repr__"] = _repr
        if "__eq__" not in own:
            methods["__eq__"] = _eq
        if frozen:
            methods["__setattr__"] = _frozen_setattr
            methods["__delattr__"] = _frozen_delattr
        if own.get("__hash__") is None:
            # As dataclasses: hashable by value when frozen, unhashable when mutable.
            methods["__hash__"] = _hash if frozen else None
        if order:
            methods.update(_ORDER)
        for name, method in methods.items():
            setattr(target, name, method)
        return target

    return make if cls is None else make(cls)


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record `obj` with `changes`, as dataclasses.replace."""
    spec: _Spec = type(obj).__record__  # type: ignore[attr-defined]
    unknown = set(changes) - set(spec.names)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no fields {sorted(unknown)}")
    values = {n: changes[n] if n in changes else getattr(obj, n) for n in spec.names}
    return type(obj)(**values)
