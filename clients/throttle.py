"""Throttling of failed log-ins, in the shared cache (Redis in production).

Three counters, each over a fixed window of ``LOGIN_FAILURE_WINDOW_SECONDS``:

- per (user name, client address): ``LOGIN_FAILURE_LIMIT`` (5) attempts, then that pair is refused;
- per client address: ``LOGIN_FAILURE_ADDRESS_LIMIT`` (higher: an office behind one NAT address has many
  users), which stops one address from spraying guesses over many user names;
- per user name over the addresses it has never logged in from: ``LOGIN_FAILURE_USER_LIMIT``, which stops a
  guess spread over many addresses.

An address the user has logged in from before (``LOGIN_KNOWN_GOOD_SECONDS``) is "known good" for that user:
only the pair counter applies to it, so strangers guessing a user's password elsewhere, or from the same
proxy, never lock the user out of their usual place.

The client address is the one ``silverfin_sync.client_address`` takes from the trusted proxy's header, never
the proxy's own address. Every attempt is reserved before the password is checked: the counters are
incremented first (atomically: ``INCR`` in Redis) and the attempt is refused when a counter is then over its
limit, so parallel guesses cannot all slip through between a check and a record. A refused attempt and a
successful log-in give their reservation back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def _digest(text: str) -> str:
    # Hashed: cache keys must stay short and printable whatever a user types, and hold no e-mail address.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _user(username: str) -> str:
    # Equivalent mutant (upper() for lower()): either folds case, so one name keeps one counter whatever its
    # case; they differ only for letters such as "ß" (upper: "SS"), never for a log-in name we tell apart.
    folded = username.strip().lower()  # pragma: no mutate
    return _digest(folded)


def _known_good_key(username: str, address: str) -> str:
    return f"login:good:{_user(username)}:{_digest(address)}"


@dataclass
class LoginReservation:
    """The counters one log-in attempt was added to, and whether any is over its limit."""

    username: str
    address: str
    refused: bool = False
    counters: list[str] = field(default_factory=list)


def _increment(key: str, *, by: int = 1) -> int:
    """Adds ``by`` to the counter and returns the new value, atomically where the cache can."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    backend = caches["default"]  # ``cache`` is a proxy: isinstance() must look at the backend itself
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        # To the primary (write=True), never to a replica; Django's client picks the server by that alone.
        client = backend._cache.get_client(write=True)
        pipeline = client.pipeline(
            # Equivalent mutant (no MULTI/EXEC): the pipeline sends INCRBY and EXPIRE NX in one round trip
            # either way, and no other client's command between them changes the count or the window.
            transaction=True,  # pragma: no mutate
        )
        pipeline.incrby(full_key, by)
        pipeline.expire(full_key, window, nx=True)  # the window starts at the first attempt
        value, _ = pipeline.execute()
        return int(value)
    # The demo's database cache has no atomic increment: good enough for one person trying the demo.
    # Equivalent mutants (another timeout here): Django's DatabaseCache.incr() below stores the value again
    # with the cache's default timeout, which replaces this one (so the demo's window is that default).
    cache.add(key, 0, timeout=window)  # pragma: no mutate
    try:
        return int(cache.incr(key, by))
    except ValueError:  # expired in between
        cache.add(key, max(by, 0), timeout=window)
        return by


def login_attempt_reserve(*, username: str, address: str) -> LoginReservation:
    """Counts the attempt first, then says whether it may go on to the password check."""
    user, where = _user(username), _digest(address)
    limits = {f"login:pair:{user}:{where}": settings.LOGIN_FAILURE_LIMIT}
    if not cache.get(_known_good_key(username, address)):
        limits[f"login:addr:{where}"] = settings.LOGIN_FAILURE_ADDRESS_LIMIT
        limits[f"login:user:{user}"] = settings.LOGIN_FAILURE_USER_LIMIT
    reservation = LoginReservation(username=username, address=address, counters=list(limits))
    for key, limit in limits.items():
        if _increment(key) > limit:
            reservation.refused = True
    if reservation.refused:
        # A refused attempt checked nothing: it gives its places back, so guesses refused for one pair do
        # not fill the address's or the user's counter.
        for key in limits:
            _increment(key, by=-1)
    return reservation


def login_attempt_succeeded(reservation: LoginReservation) -> None:
    """The password was right: give the attempt back, forget the pair's failures, remember the address."""
    pair, *others = reservation.counters
    cache.delete(pair)
    for key in others:
        _increment(key, by=-1)
    cache.set(
        _known_good_key(reservation.username, reservation.address),
        1,  # pragma: no mutate (equivalent: only whether the key is there is read, any value would do)
        timeout=settings.LOGIN_KNOWN_GOOD_SECONDS,
    )


def password_reset_reserve(*, email: str, address: str) -> bool:
    """Whether a password-reset mail may go out: at most ``PASSWORD_RESET_LIMIT`` per e-mail address and
    ``PASSWORD_RESET_ADDRESS_LIMIT`` per client address in the window, so nobody can flood a known address
    with mails (counted first, atomically, like log-ins)."""
    limits = {
        f"reset:user:{_user(email)}": settings.PASSWORD_RESET_LIMIT,
        f"reset:addr:{_digest(address)}": settings.PASSWORD_RESET_ADDRESS_LIMIT,
    }
    return all(_increment(key) <= limit for key, limit in limits.items())
