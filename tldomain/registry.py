"""A name -> object table whose lookups fail with the list of valid names."""

from typing import Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
  """A name that is not registered; the message lists the valid ones."""

  def __str__(self) -> str:  # KeyError would print the message with quotes.
    return str(self.args[0])


class Registry(Generic[T]):
  """Maps names to objects (backbones, methods, datasets).

  Lookups of unknown names raise an `UnknownNameError` that lists the registered names,
  so a typo in a config is a one-line fix.
  """

  def __init__(self, kind: str):
    self.kind = kind
    self._items: dict[str, T] = {}

  def register(self, name: str, item: T | None = None, *, overwrite: bool = False):
    """Registers `item` under `name`; usable as a decorator when `item` is None."""

    def add(obj: T) -> T:
      if name in self._items and not overwrite:
        raise ValueError(f"{self.kind} {name!r} is already registered; "
                         "pass overwrite=True to replace it.")
      self._items[name] = obj
      return obj

    return add if item is None else add(item)

  def get(self, name: str) -> T:
    try:
      return self._items[name]
    except KeyError:
      raise UnknownNameError(f"Unknown {self.kind} {name!r}. Valid names: "
                     f"{', '.join(sorted(self._items)) or '(none registered)'}.") from None

  def names(self) -> list[str]:
    return sorted(self._items)

  def __contains__(self, name: str) -> bool:
    return name in self._items

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())
