"""Domain fixtures: a firm with one user per role, and a second firm to prove isolation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from clients.models import ClientFile, Firm, Role

from .factories import ClientFileFactory, FirmFactory, MembershipFactory, UserFactory


@dataclass
class FirmWorld:
    firm: Firm
    admin: User
    staff: User
    external: User
    pulse: User
    given_file: ClientFile  # given to the external contributor and the Pulse user
    other_file: ClientFile  # not given to them

    def user(self, role: Role) -> User:
        return {
            Role.ADMIN: self.admin,
            Role.STAFF: self.staff,
            Role.EXTERNAL: self.external,
            Role.PULSE: self.pulse,
        }[role]


def make_firm_world(prefix: str) -> FirmWorld:
    firm = FirmFactory.create(name=f"{prefix.title()} Accountants", slug=prefix)
    given = ClientFileFactory.create(
        firm=firm, name=f"{prefix.title()} Given BV", file_code=f"{prefix.upper()}-G"
    )
    other = ClientFileFactory.create(
        firm=firm, name=f"{prefix.title()} Other NV", file_code=f"{prefix.upper()}-O"
    )
    users = {}
    for role in Role:
        user = UserFactory.create(username=f"{role.value}@{prefix}.test")
        membership = MembershipFactory.create(user=user, firm=firm, role=role)
        if role in {Role.EXTERNAL, Role.PULSE}:
            membership.client_files.set([given])
        users[role] = user
    return FirmWorld(
        firm=firm,
        admin=users[Role.ADMIN],
        staff=users[Role.STAFF],
        external=users[Role.EXTERNAL],
        pulse=users[Role.PULSE],
        given_file=given,
        other_file=other,
    )


@pytest.fixture
def world(db: None) -> FirmWorld:
    return make_firm_world("alpha")


@pytest.fixture
def other_world(db: None) -> FirmWorld:
    return make_firm_world("beta")
