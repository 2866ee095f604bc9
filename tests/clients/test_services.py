from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clients.models import ClientFile, Firm, Membership, Role
from clients.services import client_file_create, firm_create, firm_create_with_admin, membership_set
from tests.factories import ClientFileFactory, FirmFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_firm_create_with_admin_makes_an_admin_membership() -> None:
    membership = firm_create_with_admin(
        name="  Accountants   & Co ", slug="acco", admin_email="Boss@Acco.test", admin_password="s3cret-pass!"
    )
    assert membership.role == Role.ADMIN
    assert membership.firm.name == "Accountants & Co"
    assert membership.user.username == "boss@acco.test"
    assert membership.user.check_password("s3cret-pass!")


@pytest.mark.parametrize(
    ("name", "slug", "message"),
    [
        ("", "ok", "This field is required."),
        ("Firm", "not a slug!", "Enter a valid “slug”"),
        ("x" * 201, "ok", "At most 200 characters"),
    ],
)
def test_firm_create_refuses_bad_input_and_stores_nothing(name: str, slug: str, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        firm_create(name=name, slug=slug)
    assert message in str(error.value)
    assert not Firm.objects.exists()


def test_a_duplicate_firm_slug_is_refused_with_its_name() -> None:
    FirmFactory.create(slug="taken")
    with pytest.raises(ValidationError, match="slug “taken” already exists"):
        firm_create(name="Another", slug="taken")


def test_a_bad_admin_email_creates_no_firm() -> None:
    with pytest.raises(ValidationError):
        firm_create_with_admin(name="Firm", slug="firm", admin_email="not-an-email", admin_password="x")
    assert not Firm.objects.exists()


def test_file_codes_are_unique_per_firm_whatever_the_case() -> None:
    firm = FirmFactory.create()
    client_file_create(firm=firm, name="Bakkerij", file_code="BAK")
    with pytest.raises(ValidationError, match="already used by Bakkerij"):
        client_file_create(firm=firm, name="Other", file_code="bak")
    client_file_create(firm=FirmFactory.create(), name="Elsewhere", file_code="BAK")  # another firm may
    assert ClientFile.objects.count() == 2


def test_the_database_refuses_a_duplicate_file_code_too() -> None:
    file = ClientFileFactory.create(file_code="DUP")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientFile.objects.create(firm=file.firm, name="Dup", file_code="DUP")


def test_membership_set_replaces_the_role_and_refuses_other_firms_files() -> None:
    firm, user = FirmFactory.create(), UserFactory.create()
    membership_set(firm=firm, user=user, role=Role.STAFF)
    membership_set(firm=firm, user=user, role=Role.EXTERNAL)
    assert Membership.objects.get(user=user, firm=firm).role == Role.EXTERNAL
    with pytest.raises(ValidationError, match="another firm"):
        membership_set(firm=firm, user=user, role=Role.EXTERNAL, client_files=[ClientFileFactory.create()])
    with pytest.raises(ValidationError, match="Unknown role"):
        membership_set(firm=firm, user=user, role="owner")
