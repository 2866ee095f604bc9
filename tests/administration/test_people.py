"""People: invitations by e-mail, roles and files given, removal; the last admin stays; every change is
audited and takes effect at the person's next request."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from administration.models import Invitation
from clients.models import Membership, Role
from syncs.models import AuditEvent
from tests.fixtures import FirmWorld

pytestmark = pytest.mark.django_db(transaction=True)  # the invitation mail is sent once committed


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _link_in(body: object) -> str:
    found = re.search(r"http://testserver(/invitations/[^/\s]+/)", str(body))
    assert found, body
    return found.group(1)


def _invite(world: FirmWorld, email: str, role: str, files: list[int] | None = None) -> str:
    response = _client(world.admin).post(
        reverse("person_invite", args=[world.firm.slug]),
        {"email": email, "role": role, "client_files": files or [], "language": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    message = mail.outbox[-1]
    assert message.to == [email.lower()]
    return _link_in(message.body)


def test_an_invited_external_contributor_sets_a_password_and_sees_only_the_files_given(
    world: FirmWorld,
) -> None:
    path = _invite(world, "Nieuw@Extern.test", Role.EXTERNAL, [world.other_file.pk])
    message = mail.outbox[-1]
    assert "External contributor" in message.body and world.firm.name in message.subject
    html = getattr(message, "alternatives", [])
    assert html and "<a href=" in str(html[0][0])

    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200 and b"nieuw@extern.test" in page.content
    refused = visitor.post(path, {"password1": "short", "password2": "short"})
    assert refused.status_code == 200 and not User.objects.filter(username="nieuw@extern.test").exists()
    accepted = visitor.post(
        path,
        {
            "full_name": "Nel Nieuw",
            "password1": "a long pass phrase 42",
            "password2": "a long pass phrase 42",
        },
    )
    assert accepted.status_code == 302
    user = User.objects.get(username="nieuw@extern.test")
    membership = Membership.objects.get(user=user, firm=world.firm)
    assert membership.role == Role.EXTERNAL
    assert list(membership.client_files.all()) == [world.other_file]
    # Logged in, and sees exactly the file given.
    assert (
        visitor.get(reverse("client_file_detail", args=[world.firm.slug, world.other_file.pk])).status_code
        == 200
    )
    assert (
        visitor.get(reverse("client_file_detail", args=[world.firm.slug, world.given_file.pk])).status_code
        == 404
    )
    # The link works once.
    assert Client().get(path).status_code == 404
    actions = list(AuditEvent.objects.filter(firm=world.firm).values_list("action", flat=True))
    assert AuditEvent.Action.INVITED in actions and AuditEvent.Action.JOINED in actions


def test_only_a_hash_of_the_link_is_stored_and_a_wrong_or_expired_link_does_nothing(world: FirmWorld) -> None:
    path = _invite(world, "staff2@alpha.test", Role.STAFF)
    token = path.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get(email="staff2@alpha.test")
    assert token not in invitation.token_hash
    assert Client().get(path[:-5] + "xxxx/").status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert Client().get(path).status_code == 404
    assert (
        Client()
        .post(path, {"password1": "a long pass phrase 42", "password2": "a long pass phrase 42"})
        .status_code
        == 404
    )
    assert not User.objects.filter(username="staff2@alpha.test").exists()


def test_resending_replaces_the_link_and_revoking_kills_it(world: FirmWorld) -> None:
    first = _invite(world, "late@alpha.test", Role.STAFF)
    invitation = Invitation.objects.get(email="late@alpha.test")
    admin = _client(world.admin)
    admin.post(reverse("invitation_resend", args=[world.firm.slug, invitation.pk]))
    second = _link_in(mail.outbox[-1].body)
    assert second != first
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200
    admin.post(reverse("invitation_revoke", args=[world.firm.slug, invitation.pk]))
    assert Client().get(second).status_code == 404
    assert [e for e in AuditEvent.objects.values_list("action", flat=True) if e.startswith("invite")] == [
        AuditEvent.Action.INVITE_REVOKED,
        AuditEvent.Action.INVITE_RESENT,
        AuditEvent.Action.INVITED,
    ]


def test_someone_of_another_firm_joins_with_the_same_log_in(world: FirmWorld, other_world: FirmWorld) -> None:
    path = _invite(world, other_world.staff.username.upper(), Role.STAFF)
    stranger = _client(world.staff)
    refused = stranger.post(path)  # logged in as someone else: refused, nothing changes
    assert b"log in as that person" in refused.content
    visitor = _client(other_world.staff)
    assert b"Join the firm" in visitor.get(path).content
    assert visitor.post(path).status_code == 302
    assert Membership.objects.get(user=other_world.staff, firm=world.firm).role == Role.STAFF
    assert Membership.objects.get(user=other_world.staff, firm=other_world.firm).role == Role.STAFF


def test_a_member_or_a_pending_invitation_is_not_invited_twice(world: FirmWorld) -> None:
    admin = _client(world.admin)
    url = reverse("person_invite", args=[world.firm.slug])
    response = admin.post(url, {"email": world.staff.username, "role": Role.STAFF})
    assert b"already a member" in response.content
    _invite(world, "twice@alpha.test", Role.STAFF)
    response = admin.post(url, {"email": "twice@alpha.test", "role": Role.ADMIN})
    assert b"already been invited" in response.content
    assert Invitation.objects.filter(email="twice@alpha.test").count() == 1


def test_a_role_change_takes_effect_at_the_next_request(world: FirmWorld) -> None:
    external = _client(world.external)
    page = reverse("client_file_detail", args=[world.firm.slug, world.given_file.pk])
    assert external.get(page).status_code == 200
    membership = Membership.objects.get(user=world.external, firm=world.firm)
    admin = _client(world.admin)
    response = admin.post(
        reverse("person_edit", args=[world.firm.slug, membership.pk]),
        {"role": Role.EXTERNAL, "client_files": [world.other_file.pk]},
    )
    assert response.status_code == 302
    assert external.get(page).status_code == 404  # the same session, the next click
    admin.post(reverse("person_remove", args=[world.firm.slug, membership.pk]))
    assert external.get(reverse("firm_overview", args=[world.firm.slug])).status_code == 404
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditEvent.Action.FILES_GIVEN, AuditEvent.Action.REMOVED} <= actions


def test_the_last_admin_can_neither_be_demoted_nor_removed(world: FirmWorld) -> None:
    membership = Membership.objects.get(user=world.admin, firm=world.firm)
    admin = _client(world.admin)
    response = admin.post(reverse("person_edit", args=[world.firm.slug, membership.pk]), {"role": Role.STAFF})
    assert b"last admin" in response.content
    admin.post(reverse("person_remove", args=[world.firm.slug, membership.pk]))
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    # With a second admin, the first may step down.
    staff = Membership.objects.get(user=world.staff, firm=world.firm)
    admin.post(reverse("person_edit", args=[world.firm.slug, staff.pk]), {"role": Role.ADMIN})
    response = admin.post(reverse("person_edit", args=[world.firm.slug, membership.pk]), {"role": Role.STAFF})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.STAFF


def test_another_firms_people_and_invitations_are_out_of_reach(
    world: FirmWorld, other_world: FirmWorld
) -> None:
    _invite(world, "mine@alpha.test", Role.STAFF)
    invitation = Invitation.objects.get(email="mine@alpha.test")
    theirs = Membership.objects.get(user=other_world.staff, firm=other_world.firm)
    admin = _client(world.admin)
    assert admin.post(reverse("person_remove", args=[world.firm.slug, theirs.pk])).status_code == 404
    assert (
        admin.post(reverse("person_edit", args=[world.firm.slug, theirs.pk]), {"role": "admin"}).status_code
        == 404
    )
    outsider = _client(other_world.admin)
    assert (
        outsider.post(reverse("invitation_revoke", args=[world.firm.slug, invitation.pk])).status_code == 404
    )
    assert (
        outsider.post(reverse("invitation_revoke", args=[other_world.firm.slug, invitation.pk])).status_code
        == 404
    )
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert Membership.objects.filter(pk=theirs.pk).exists()
