from django.apps import AppConfig


class SyncsConfig(AppConfig):
    """Firm-level connections to bookkeeping packages, client links, sync runs and the sync engine."""

    name = "syncs"
    verbose_name = "Bookkeeping syncs"
