from django.apps import AppConfig


class SilverfinSyncConfig(AppConfig):
    """Holds what every app shares: the stylesheet, encrypted fields, operator commands."""

    name = "silverfin_sync"
    verbose_name = "Silverfin sync (shared)"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the encryption key checks)
