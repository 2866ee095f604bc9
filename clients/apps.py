from django.apps import AppConfig


class ClientsConfig(AppConfig):
    """Firms, their people and roles, client files, and each client file's ledger."""

    name = "clients"
    verbose_name = "Firms and client files"
