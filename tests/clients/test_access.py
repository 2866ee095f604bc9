"""The role-by-page matrix, firm isolation, and the access module's yes/no answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import reverse

from clients.access import Action, FirmAccess, can, client_file_visible, require_client_file, require_firm
from clients.models import Membership, Role
from tests.factories import PASSWORD
from tests.fixtures import FirmWorld

PAGES = ["firm_overview", "client_file_given", "client_file_other", "syncs_tab"]

# What each role gets on each page: 200 allowed, 403 forbidden, 404 not found.
EXPECTED = {
    Role.ADMIN: {"firm_overview": 200, "client_file_given": 200, "client_file_other": 200, "syncs_tab": 200},
    Role.STAFF: {"firm_overview": 200, "client_file_given": 200, "client_file_other": 200, "syncs_tab": 200},
    Role.EXTERNAL: {
        "firm_overview": 200,
        "client_file_given": 200,
        "client_file_other": 404,
        "syncs_tab": 403,
    },
    Role.PULSE: {"firm_overview": 403, "client_file_given": 403, "client_file_other": 403, "syncs_tab": 403},
}


def page_url(world: FirmWorld, page: str) -> str:
    slug = world.firm.slug
    return {
        "firm_overview": reverse("firm_overview", args=[slug]),
        "client_file_given": reverse("client_file_detail", args=[slug, world.given_file.pk]),
        "client_file_other": reverse("client_file_detail", args=[slug, world.other_file.pk]),
        "syncs_tab": reverse("syncs_tab", args=[slug]),
    }[page]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("page", PAGES)
def test_each_role_gets_what_it_may_on_each_page(
    client: Client, world: FirmWorld, role: Role, page: str
) -> None:
    client.force_login(world.user(role))
    response = client.get(page_url(world, page))
    assert response.status_code == EXPECTED[role][page]


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_are_sent_to_log_in(client: Client, world: FirmWorld, page: str) -> None:
    url = page_url(world, page)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("page", PAGES)
def test_another_firms_pages_are_not_found(
    client: Client, world: FirmWorld, other_world: FirmWorld, role: Role, page: str
) -> None:
    client.force_login(other_world.user(role))
    assert client.get(page_url(world, page)).status_code == 404


def test_another_firm_is_not_found_for_the_access_check_itself(
    world: FirmWorld, other_world: FirmWorld
) -> None:
    """The reason the 404 carries (in logs and error reports), whatever the action."""
    for action in Action:
        with pytest.raises(Http404, match=r"^No such firm\.$"):
            require_firm(world.admin, other_world.firm.slug, action)


def test_a_refusal_names_the_role_refused_for_the_access_check_itself(world: FirmWorld) -> None:
    """The reason the 403 carries (in logs and error reports), for a firm and for a client file."""
    with pytest.raises(PermissionDenied, match=r"^Your role \(Staff contributor\) does not allow this\.$"):
        require_firm(world.staff, world.firm.slug, Action.MANAGE_PEOPLE)
    with pytest.raises(PermissionDenied, match=r"^Your role \(External contributor\) does not allow this\.$"):
        require_client_file(world.external, world.firm.slug, world.given_file.pk, Action.SYNC_CLIENT_FILE)
    with pytest.raises(PermissionDenied, match=r"^Your role \(Pulse user\) does not allow this\.$"):
        require_client_file(world.pulse, world.firm.slug, world.given_file.pk, Action.VIEW_CLIENT_FILE)


def test_a_client_file_not_found_says_whether_the_firm_or_the_file_is_unknown(
    world: FirmWorld, other_world: FirmWorld
) -> None:
    """The reasons the 404 carries (in logs and error reports)."""
    with pytest.raises(Http404, match=r"^No such firm\.$"):
        require_client_file(
            world.admin, other_world.firm.slug, other_world.given_file.pk, Action.VIEW_CLIENT_FILE
        )
    for user, client_file_id in [
        (world.admin, 987654321),  # no such id
        (world.admin, other_world.given_file.pk),  # another firm's file under one's own firm
        (world.external, world.other_file.pk),  # a file not given to this external contributor
    ]:
        with pytest.raises(Http404, match=r"^No such client file\.$"):
            require_client_file(user, world.firm.slug, client_file_id, Action.VIEW_CLIENT_FILE)


def test_the_access_check_reads_the_membership_and_its_firm_in_one_query(
    world: FirmWorld, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        access = require_firm(world.staff, world.firm.slug, Action.VIEW_FIRM)
        assert access.firm.name == world.firm.name


def test_a_firm_letting_staff_manage_client_files_gives_them_that_and_nothing_more(world: FirmWorld) -> None:
    staff = FirmAccess(firm=world.firm, membership=Membership.objects.get(user=world.staff, firm=world.firm))
    assert staff.may(Action.MANAGE_CLIENT_FILES) is False
    world.firm.staff_manage_client_files = True
    assert staff.may(Action.MANAGE_CLIENT_FILES) is True
    admin_only = {Action.MANAGE_SYNCS, Action.UNLOCK_BOOKS, Action.MANAGE_FIRM, Action.MANAGE_PEOPLE}
    assert {action for action in Action if not staff.may(action)} == admin_only
    external = FirmAccess(
        firm=world.firm, membership=Membership.objects.get(user=world.external, firm=world.firm)
    )
    assert external.may(Action.MANAGE_CLIENT_FILES) is False  # staff only, not every role


def test_another_firms_client_file_is_never_visible_even_to_an_admin_who_sees_every_file(
    world: FirmWorld, other_world: FirmWorld
) -> None:
    membership = Membership.objects.get(user=world.admin, firm=world.firm)
    access = FirmAccess(firm=world.firm, membership=membership)
    assert membership.sees_all_client_files
    assert client_file_visible(access, world.other_file) is True
    assert client_file_visible(access, other_world.other_file) is False


def test_a_client_file_id_of_another_firm_under_ones_own_firm_is_not_found(
    client: Client, world: FirmWorld, other_world: FirmWorld
) -> None:
    client.force_login(world.admin)
    url = reverse("client_file_detail", args=[world.firm.slug, other_world.given_file.pk])
    assert client.get(url).status_code == 404


def test_external_contributor_sees_only_given_client_files(client: Client, world: FirmWorld) -> None:
    client.force_login(world.external)
    body = client.get(page_url(world, "firm_overview")).content.decode()
    assert world.given_file.name in body
    assert world.other_file.name not in body
    assert reverse("syncs_tab", args=[world.firm.slug]) not in body  # no Syncs tab in the navigation


def test_staff_sees_every_client_file_and_the_syncs_tab(client: Client, world: FirmWorld) -> None:
    client.force_login(world.staff)
    body = client.get(page_url(world, "firm_overview")).content.decode()
    assert world.given_file.name in body
    assert world.other_file.name in body
    assert reverse("syncs_tab", args=[world.firm.slug]) in body


def test_home_sends_a_one_firm_user_to_the_firm(client: Client, world: FirmWorld) -> None:
    client.force_login(world.staff)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("firm_overview", args=[world.firm.slug])


def test_home_tells_a_pulse_user_the_portal_is_not_theirs(client: Client, world: FirmWorld) -> None:
    client.force_login(world.pulse)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "no access to the sync portal" in response.content.decode()


def test_home_lists_firms_for_a_member_of_several(
    client: Client, world: FirmWorld, other_world: FirmWorld
) -> None:
    from clients.services import membership_set

    membership_set(firm=other_world.firm, user=world.staff, role=Role.ADMIN)
    client.force_login(world.staff)
    body = client.get(reverse("home")).content.decode()
    assert world.firm.name in body and other_world.firm.name in body


@pytest.mark.parametrize(
    ("role", "action", "expected"),
    [
        (Role.ADMIN, Action.MANAGE_SYNCS, True),
        (Role.STAFF, Action.MANAGE_SYNCS, False),
        (Role.STAFF, Action.LINK_CLIENT_FILE, True),
        (Role.STAFF, Action.SYNC_CLIENT_FILE, True),
        (Role.EXTERNAL, Action.LINK_CLIENT_FILE, False),
        (Role.EXTERNAL, Action.SYNC_CLIENT_FILE, False),
        (Role.EXTERNAL, Action.VIEW_CLIENT_FILE, True),
        (Role.PULSE, Action.VIEW_CLIENT_FILE, False),
    ],
)
def test_can_answers_per_role_for_a_given_file(
    world: FirmWorld, role: Role, action: Action, expected: bool
) -> None:
    assert can(world.user(role), action, world.given_file) is expected


def test_can_refuses_files_not_given_and_other_firms(world: FirmWorld, other_world: FirmWorld) -> None:
    assert can(world.external, Action.VIEW_CLIENT_FILE, world.other_file) is False
    assert can(world.admin, Action.VIEW_CLIENT_FILE, other_world.given_file) is False
    assert can(world.admin, Action.VIEW_FIRM, other_world.firm) is False


def test_logging_in_with_a_password_reaches_the_firm(client: Client, world: FirmWorld) -> None:
    response = client.post(
        reverse("login"), {"username": world.staff.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("firm_overview", args=[world.firm.slug])
