"""The one place that answers "may this user do this to this object?".

Every view goes through ``require_firm`` / ``require_client_file`` (or ``can`` for a yes/no), so the rules
live here and nowhere else. Two kinds of "no":

- the object is outside what the user may know about (another firm, a client file not given to an
  external contributor): **404**, so ids of other tenants reveal nothing;
- the object is known but the role may not do this to it: **403** (PermissionDenied). A role that may not
  open client files at all (Pulse) gets 403 on every client file URL of its firm, known or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from .models import ClientFile, Firm, Membership, Role


class Action(StrEnum):
    VIEW_FIRM = "view_firm"  # the firm overview and its Client files tab
    VIEW_SYNCS = "view_syncs"  # the firm's Syncs tab (never any secret)
    MANAGE_SYNCS = "manage_syncs"  # connect, reconnect, disconnect a firm-level sync; read the audit log
    VIEW_CLIENT_FILE = "view_client_file"  # a client file: ledger, sync status and history
    LINK_CLIENT_FILE = "link_client_file"  # link a client file to a sync, change or remove the link
    SYNC_CLIENT_FILE = "sync_client_file"  # "Sync now"
    LOCK_BOOKS = "lock_books"  # close a client file's books up to a later period end
    UNLOCK_BOOKS = "unlock_books"  # move the lock date back, or remove it: admins only
    ACCEPT_CHANGES = "accept_changes"  # accept the changes syncs made in closed periods
    MANAGE_FIRM = "manage_firm"  # the firm's settings, such as its default language
    # Add, edit, archive and import client files: admins, and staff when the firm allows it.
    MANAGE_CLIENT_FILES = "manage_client_files"
    MANAGE_PEOPLE = "manage_people"  # invite people, change their role and files, remove them


_ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.STAFF: frozenset(
        {
            Action.VIEW_FIRM,
            Action.VIEW_SYNCS,
            Action.VIEW_CLIENT_FILE,
            Action.LINK_CLIENT_FILE,
            Action.SYNC_CLIENT_FILE,
            Action.LOCK_BOOKS,
            Action.ACCEPT_CHANGES,
        }
    ),
    Role.EXTERNAL: frozenset({Action.VIEW_FIRM, Action.VIEW_CLIENT_FILE}),
    # Pulse users work in the client portal only; nothing of the sync portal is theirs.
    Role.PULSE: frozenset(),
}


@dataclass(frozen=True)
class FirmAccess:
    firm: Firm
    membership: Membership

    def may(self, action: Action) -> bool:
        if (
            action == Action.MANAGE_CLIENT_FILES
            and self.membership.role == Role.STAFF
            and self.firm.staff_manage_client_files
        ):
            return True
        return action in _ROLE_ACTIONS[self.membership.role]

    # For templates, which cannot pass arguments.
    @property
    def may_manage_client_files(self) -> bool:
        return self.may(Action.MANAGE_CLIENT_FILES)

    @property
    def may_manage_people(self) -> bool:
        return self.may(Action.MANAGE_PEOPLE)


def _membership(user: User | AnonymousUser, firm_slug: str) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("firm").filter(user=user, firm__slug=firm_slug).first()


def require_firm(user: User | AnonymousUser, firm_slug: str, action: Action) -> FirmAccess:
    """The user's access to a firm, if the role allows ``action`` there; 404 when not a member."""
    membership = _membership(user, firm_slug)
    if membership is None:
        raise Http404(_("No such firm."))
    access = FirmAccess(firm=membership.firm, membership=membership)
    if not access.may(action):
        raise PermissionDenied(_role_refused(membership))
    return access


def _role_refused(membership: Membership) -> str:
    return _("Your role (%(role)s) does not allow this.") % {"role": membership.get_role_display()}


def client_file_visible(access: FirmAccess, client_file: ClientFile) -> bool:
    if client_file.firm_id != access.firm.pk:
        return False
    if access.membership.sees_all_client_files:
        return True
    return access.membership.client_files.filter(pk=client_file.pk).exists()


def require_client_file(
    user: User | AnonymousUser, firm_slug: str, client_file_id: int, action: Action
) -> tuple[FirmAccess, ClientFile]:
    """A client file of the user's firm, if the user may see it (else 404) and do ``action`` (else 403)."""
    membership = _membership(user, firm_slug)
    if membership is None:
        raise Http404(_("No such firm."))
    access = FirmAccess(firm=membership.firm, membership=membership)
    if not access.may(Action.VIEW_CLIENT_FILE):
        # A role without the sync portal (Pulse) gets one answer for every client file URL, whether the file
        # exists, was given to the user or not: 403, which reveals nothing about the file.
        raise PermissionDenied(_role_refused(membership))
    # Equivalent mutants on the next line (the firm filter dropped): client_file_visible refuses another
    # firm's file as well, with the same 404; each check stands in for the other (defence in depth).
    client_file = ClientFile.objects.filter(firm=access.firm, pk=client_file_id).first()  # pragma: no mutate
    if client_file is None or not client_file_visible(access, client_file):
        raise Http404(_("No such client file."))
    if not access.may(action):
        raise PermissionDenied(_role_refused(membership))
    return access, client_file


def can(user: User | AnonymousUser, action: Action, obj: Firm | ClientFile) -> bool:
    """Yes/no form of the rules above, for templates and services."""
    firm = obj if isinstance(obj, Firm) else obj.firm
    membership = _membership(user, firm.slug)
    if membership is None:
        return False
    access = FirmAccess(firm=membership.firm, membership=membership)
    if isinstance(obj, ClientFile) and not client_file_visible(access, obj):
        return False
    return access.may(action)
