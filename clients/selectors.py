"""Read-side queries for firms and client files. Services write; selectors read."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from .access import FirmAccess
from .models import ClientFile, Membership


def user_language(*, user: User) -> str:
    """The language the user chose, else the default of their first firm that has one; "" for neither
    (the browser's then). One query: it runs on every request."""
    rows = (
        User.objects.filter(pk=user.pk)
        .values_list("profile__language", "memberships__firm__default_language")
        .order_by("memberships__firm__name", "memberships__firm__pk")
    )
    own = ""
    firm_default = ""
    for chosen, default in rows:
        own = own or chosen or ""
        firm_default = firm_default or default or ""
    return own or firm_default


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("firm").order_by("firm__name")


def client_file_list_visible(*, access: FirmAccess) -> QuerySet[ClientFile]:
    """The client files this membership may see: all of the firm's, or only those given."""
    files = ClientFile.objects.filter(firm=access.firm)
    if not access.membership.sees_all_client_files:
        files = files.filter(granted_memberships=access.membership)
    return files.order_by("name", "pk")
