from .firms import ClientFile, Firm, Membership, Profile, Role
from .ledger import Account, AccountBalance, Entry, EntryLine, FiscalYear, Journal, Period, Relation

__all__ = [
    "Account",
    "AccountBalance",
    "ClientFile",
    "Entry",
    "EntryLine",
    "Firm",
    "FiscalYear",
    "Journal",
    "Membership",
    "Period",
    "Profile",
    "Relation",
    "Role",
]
