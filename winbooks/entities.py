"""WoW object-model names in one table: route names (singular ``OM``, plural ``OMS``) and ``$type`` strings.

Reference: docs/winbooks-api.md, "Routes for data" and "Records".

The plural is the singular plus "s" as in the PHP client (so ``GLTrans`` -> ``GLTranss``); irregular real
plurals are unknown. Namespaces follow the public object-model overview: Customer, Supplier and Third live in
``Winbooks.TORM.OM``, the accounting objects in ``Winbooks.TORM.OM.Accounting``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

_ASSEMBLY = "Winbooks.TORM.OM"


@dataclass(frozen=True, slots=True)
class Entity:
    """One WoW object model: ``om`` (singular route name), ``plural`` and ``type_name`` (``$type``)."""

    om: str
    plural: str
    type_name: str


def _entity(om: str, namespace: str) -> Entity:
    return Entity(om=om, plural=f"{om}s", type_name=f"{namespace}.{om}, {_ASSEMBLY}")


_COMMON = "Winbooks.TORM.OM"
_ACCOUNTING = "Winbooks.TORM.OM.Accounting"

ENTITIES: Mapping[str, Entity] = MappingProxyType(
    {
        entity.om: entity
        for entity in (
            _entity("BookYear", _ACCOUNTING),
            _entity("BookPeriod", _ACCOUNTING),
            _entity("Journal", _ACCOUNTING),
            _entity("GLAccount", _ACCOUNTING),
            _entity("Customer", _COMMON),
            _entity("Supplier", _COMMON),
            _entity("Third", _COMMON),
            _entity("Vat", _ACCOUNTING),
            _entity("GLTransHeader", _ACCOUNTING),
            _entity("GLTrans", _ACCOUNTING),
        )
    }
)

_BY_PLURAL: Mapping[str, Entity] = MappingProxyType({entity.plural: entity for entity in ENTITIES.values()})
_BY_TYPE: Mapping[str, Entity] = MappingProxyType({entity.type_name: entity for entity in ENTITIES.values()})


def entity(name: str) -> Entity:
    """The entity for a singular OM name (``"GLTrans"``); a plural name is accepted too.

    Raises ``ValueError`` for a name outside the table, so a typo cannot reach the server as a route.
    """
    found = ENTITIES.get(name) or _BY_PLURAL.get(name)
    if found is None:
        raise ValueError(f"unknown WinbooksOnWeb object model {name!r}; known: {', '.join(ENTITIES)}")
    return found


def entity_for_type(type_name: str) -> Entity | None:
    """The entity whose ``$type`` string is ``type_name``, or ``None`` when it is not in the table."""
    return _BY_TYPE.get(type_name)


def plural(om: str) -> str:
    """The plural route name (``OMS``) of ``om``."""
    return entity(om).plural


def type_name(om: str) -> str:
    """The ``$type`` / ``EntityType`` string of ``om``."""
    return entity(om).type_name
