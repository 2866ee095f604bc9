"""A local WinbooksOnWeb (WoW) sandbox: a real HTTP server speaking the WoW REST API as written in
docs/winbooks-api.md, plus a control API under ``/_sandbox/`` (not part of WoW) for tests and benchmarks.

Standard library only; nothing here imports Django or the rest of the project.
Run: ``python -m wow_sandbox --port 8765 --demo`` (see README.md).
"""

from .chunks import CHUNK_SIZE
from .folder import Folder
from .generator import generate_folder
from .recipes import FolderRecipe
from .seed import build_demo_folder
from .server import SandboxServer
from .store import Store

__all__ = [
    "CHUNK_SIZE",
    "Folder",
    "FolderRecipe",
    "SandboxServer",
    "Store",
    "build_demo_folder",
    "generate_folder",
]
