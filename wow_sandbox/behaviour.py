"""How closely the sandbox plays WinbooksOnWeb: WoW-like (the default) or the strict forms it first had.

WoW-like follows what the public sources say WoW does (docs/winbooks-api.md, "WoW-like and strict"): every
reference expanded per ``maxLevel``, nested objects counted toward the chunk limit, single objects chunked,
exchange tokens reusable within their lifetime, unknown properties ignored and values converted as a .NET
JSON reader would, VAT codes typed ``VatAccount``. Each switch can be turned back to the strict form alone
(``Store(behaviour=...)``, ``POST /_sandbox/config``), so a test can pin the easier server it was written
against, and the sync is tested under both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

VAT_TYPES = ("VatAccount", "Vat")


@dataclass(frozen=True)
class Behaviour:
    #: Every reference (``X_Id``) expanded as an object ``X`` one level per ``maxLevel`` step (and a
    #: GLTransHeader's or a VatAccount's ``GLTransactions``); strict: only a Customer's/Supplier's ``Third``
    #: and a GLTransHeader's ``GLTransactions``, and ``maxLevel`` 3 answers as 2.
    expand_references: bool = True
    #: The chunk limit counts every JSON object of the answer, nested ones included, and a chunk boundary
    #: may cut any nested list; strict: it counts top-level items and cuts only the last GLTransHeader's
    #: lines in half.
    count_nested: bool = True
    #: A single object larger than the chunk limit is chunked too (ContinuePath on GET one).
    chunk_single: bool = True
    #: An exchange token may be exchanged again until it expires; strict: once.
    reusable_exchange_tokens: bool = True
    #: Unknown properties in bodies are ignored, property names match in any case, and values are
    #: converted the way a .NET JSON reader does (a number for a string, "1" for an integer); strict: 400.
    lenient_input: bool = True
    #: The class name in the VAT codes' ``$type``: ``VatAccount`` (WoW's Customer page, the PHP client) or
    #: ``Vat`` (strict). Both route names answer either way.
    vat_type: str = "VatAccount"

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self, values: dict[str, Any]) -> Behaviour:
        """A copy with ``values`` applied; ValueError names the first bad key or value."""
        known = {f.name: f for f in fields(self)}
        updates: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown behaviour switch {key!r} ({', '.join(known)})")
            if key == "vat_type":
                if value not in VAT_TYPES:
                    raise ValueError(f"vat_type must be one of {', '.join(VAT_TYPES)}")
            elif not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            updates[key] = value
        return replace(self, **updates)


WOW_LIKE = Behaviour()
STRICT = Behaviour(
    expand_references=False,
    count_nested=False,
    chunk_single=False,
    reusable_exchange_tokens=False,
    lenient_input=False,
    vat_type="Vat",
)
MODES = {"wow-like": WOW_LIKE, "strict": STRICT}
