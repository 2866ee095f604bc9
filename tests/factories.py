from __future__ import annotations

import factory
from django.contrib.auth.models import User

from clients.models import ClientFile, Firm, Membership, Role

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}@firm.test")
    email = factory.SelfAttribute("username")
    password = factory.django.Password(PASSWORD)


class FirmFactory(factory.django.DjangoModelFactory[Firm]):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Firm {n}")
    slug = factory.Sequence(lambda n: f"firm-{n}")


class ClientFileFactory(factory.django.DjangoModelFactory[ClientFile]):
    class Meta:
        model = ClientFile

    firm = factory.SubFactory(FirmFactory)
    name = factory.Sequence(lambda n: f"Client {n} BV")
    file_code = factory.Sequence(lambda n: f"CLIENT{n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    firm = factory.SubFactory(FirmFactory)
    role = Role.STAFF
