"""Downloads and account names follow the reader's language: the CSV in the Belgian locale's shape (';' and a
decimal comma in Dutch and French, so Excel set to it opens columns), the workbook translated with real
numbers, and WoW's French account label for French readers."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from clients.models import Account, Profile
from tests.fixtures import FirmWorld
from tests.ledger.factories import SmallLedger, build_small_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(world: FirmWorld) -> SmallLedger:
    return build_small_ledger(world.given_file)


def download(client: Client, world: FirmWorld, name: str, language: str, period: str = "2024-02") -> bytes:
    Profile.objects.update_or_create(user=world.staff, defaults={"language": language})
    client.force_login(world.staff)
    url = reverse(name, args=[world.firm.slug, world.given_file.pk]) + f"?period={period}"
    response = client.get(url)
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize(
    ("language", "header", "customers", "total"),
    [
        (
            "en",
            "Account,Name,Opening,Debit,Credit,Closing",
            "400000,Customers,1210.00,1234.5678,1210.00,1234.5678",
            "Total,,0.00,2444.5678,2444.5678,0.00",
        ),
        (
            "nl",
            "Rekening;Omschrijving;Beginsaldo;Debet;Credit;Eindsaldo",
            "400000;Customers;1210,00;1234,5678;1210,00;1234,5678",
            "Totaal;;0,00;2444,5678;2444,5678;0,00",
        ),
        (
            "fr",
            "Compte;Libellé;Solde d’ouverture;Débit;Crédit;Solde de clôture",
            "400000;Customers;1210,00;1234,5678;1210,00;1234,5678",
            "Total;;0,00;2444,5678;2444,5678;0,00",
        ),
    ],
)
def test_the_csv_follows_the_readers_locale(
    client: Client,
    world: FirmWorld,
    ledger: SmallLedger,
    language: str,
    header: str,
    customers: str,
    total: str,
) -> None:
    body = download(client, world, "trial_balance_csv", language)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads "Libellé" right
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == header
    assert customers in lines
    assert lines[-2] == total


def test_the_workbook_is_translated_and_keeps_real_numbers(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    book = openpyxl.load_workbook(io.BytesIO(download(client, world, "trial_balance_xlsx", "fr")))
    sheet = book.active
    assert sheet is not None and sheet.title == "Balance de vérification"
    rows = list(sheet.iter_rows(values_only=True))
    assert "balance de vérification, 2024-02" in str(rows[0][0])
    assert rows[1] == ("Compte", "Libellé", "Solde d’ouverture", "Débit", "Crédit", "Solde de clôture")
    customers = next(row for row in rows if row[0] == "400000")
    assert all(isinstance(value, int | float | Decimal) for value in customers[2:])
    assert rows[-1][0] == "Total"


def test_account_names_in_the_readers_language_with_the_other_as_fallback(
    client: Client, world: FirmWorld, ledger: SmallLedger
) -> None:
    Account.objects.filter(client_file=world.given_file, number="700000").update(
        name="Omzet", name_alt="Chiffre d’affaires"
    )
    # Only a Dutch name: French readers read it too, rather than nothing.
    Account.objects.filter(client_file=world.given_file, number="550000").update(name="Bank", name_alt="")
    # Only a French name: Dutch readers read that.
    Account.objects.filter(client_file=world.given_file, number="604000").update(name="", name_alt="Achats")
    url = reverse("trial_balance", args=[world.firm.slug, world.given_file.pk]) + "?period=2024-02"
    pages = {}
    for language in ("nl", "fr", "en"):
        Profile.objects.update_or_create(user=world.staff, defaults={"language": language})
        client.force_login(world.staff)
        pages[language] = client.get(url).content.decode()
    assert "Omzet" in pages["nl"] and "Chiffre d’affaires" not in pages["nl"] and "Achats" in pages["nl"]
    assert "Chiffre d’affaires" in pages["fr"] and ">Omzet<" not in pages["fr"] and ">Bank<" in pages["fr"]
    assert "Omzet" in pages["en"]
    csv_fr = download(client, world, "trial_balance_csv", "fr").decode("utf-8-sig")
    assert "700000;Chiffre d’affaires;" in csv_fr
