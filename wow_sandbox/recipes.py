"""How a folder is built: the demo company, a generated one, or an empty one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request
from .folder import Folder
from .generator import generate_folder
from .seed import build_demo_folder


@dataclass
class FolderRecipe:
    code: str
    name: str
    kind: str  # demo | generated | empty
    params: dict[str, Any] = field(default_factory=dict)


GENERATOR_PARAMS = ("years", "accounts", "relations", "documents", "lines_per_document", "seed", "end_year")


def build_folder(recipe: FolderRecipe) -> Folder:
    if recipe.kind == "demo":
        return build_demo_folder(recipe.code, name=recipe.name or None)
    if recipe.kind == "generated":
        params = {k: v for k, v in recipe.params.items() if k in GENERATOR_PARAMS}
        return generate_folder(recipe.code, name=recipe.name or None, **params)
    if recipe.kind == "empty":
        return Folder(recipe.code, recipe.name or recipe.code, "empty").ready()
    raise bad_request(f"Unknown folder kind {recipe.kind!r} (demo, generated or empty)")
