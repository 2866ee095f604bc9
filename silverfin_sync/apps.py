from django.apps import AppConfig


class SilverfinSyncConfig(AppConfig):
    """Holds what every app shares: the stylesheet, encrypted fields, operator commands."""

    name = "silverfin_sync"
    verbose_name = "Silverfin sync (shared)"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401  (registers the encryption key checks)
        from .idle_sessions import session_touch

        user_logged_in.connect(session_touch, dispatch_uid="idle-session-touch")
