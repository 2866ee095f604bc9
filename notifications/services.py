"""Write side of notifications: the reconnect alert, the daily digests, a person's choices.

Mails go through Django's mail settings (``EMAIL_URL``), plain text with an HTML alternative, in the
firm's or the person's language. They name client files and link to the portal; they never carry a
secret, an error's raw text or a sync's internals. Each mail first claims its (firm, cause, day) row in
``SentNotification``: a second attempt that day finds the row taken and sends nothing, so 300 failing files,
a flapping token or a dispatcher run twice never become a storm.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode

from clients.models import Firm, Membership, Role
from clients.selectors import user_language
from syncs.locks import change_alert_effects
from syncs.models import ChangeAlert, Connection

from . import selectors
from .models import NotificationSetting, SentNotification

logger = logging.getLogger(__name__)

FILES_LISTED = 50  # per mail or cause; the rest is "and N more", with a link to all of them


def _url(path: str, **query: str) -> str:
    return settings.SITE_URL.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")


def _today() -> dt.date:
    return timezone.localdate()


def _claim(*, firm: Firm, kind: str, subject_id: int) -> SentNotification | None:
    """The day's row for this cause, or None when a mail for it already went out today."""
    try:
        with transaction.atomic():
            return SentNotification.objects.create(firm=firm, kind=kind, subject_id=subject_id, day=_today())
    except IntegrityError:
        return None


def _send(
    *, claim: SentNotification, groups: dict[str, list[str]], template: str, context: dict[str, Any]
) -> bool:
    """The mail in each language of ``groups`` (language → addresses), each to its readers, over one
    connection. If the server refuses, none counts as sent and the day's row is freed so a later try may
    send."""
    messages = []
    for language, to in groups.items():
        with translation.override(language or settings.LANGUAGE_CODE):
            subject = " ".join(render_to_string(f"notifications/{template}_subject.txt", context).split())
            text = render_to_string(f"notifications/{template}.txt", context)
            html = render_to_string(f"notifications/{template}.html", context)
        message = EmailMultiAlternatives(subject=subject, body=text, to=to)
        message.attach_alternative(html, "text/html")
        messages.append(message)
    try:
        get_connection().send_messages(messages)
    except Exception:  # the mail server refused or was away
        logger.exception("Could not send the %s mail of firm %s", claim.kind, claim.firm_id)
        claim.delete()
        return False
    SentNotification.objects.filter(pk=claim.pk).update(
        recipients=sum(len(to) for to in groups.values()), files=context.get("file_count", 0)
    )
    return True


def notify_connection_needs_reconnect(*, connection_id: int) -> bool:
    """One mail to the firm's admins (who did not turn it off) that a sync needs reconnecting, naming the
    files it leaves unsynced and linking to the reconnect page. At most once per connection and day."""
    connection = Connection.objects.select_related("firm").filter(pk=connection_id).first()
    if connection is None or connection.status != Connection.Status.NEEDS_RECONNECT:
        return False
    firm = connection.firm
    recipients = selectors.reconnect_alert_recipients(firm=firm)
    if not recipients:
        return False
    claim = _claim(firm=firm, kind=SentNotification.Kind.NEEDS_RECONNECT, subject_id=connection.pk)
    if claim is None:
        return False
    files = selectors.files_of_connection(connection=connection)
    overview = reverse("firm_overview", args=[firm.slug])
    context = {
        "firm": firm,
        "connection_name": connection.name,
        "files": [
            {
                "name": f.name,
                "file_code": f.file_code,
                "url": _url(reverse("client_file_detail", args=[firm.slug, f.pk])),
            }
            for f in files[:FILES_LISTED]
        ],
        "file_count": len(files),
        "more": max(0, len(files) - FILES_LISTED),
        "reconnect_url": _url(reverse("sync_reconnect", args=[firm.slug, connection.pk])),
        "files_url": _url(overview, connection=str(connection.pk)),
        "settings_url": _url(reverse("notification_settings", args=[firm.slug])),
    }
    return _send(
        claim=claim,
        groups={firm.default_language: [m.user.email for m in recipients]},
        template="reconnect_alert",
        context=context,
    )


def notify_change_alert_opened(*, alert_id: int) -> bool:
    """A mail to the admins and staff who opted in: a sync changed figures in a client file's closed
    periods. It names the file, the net effect per closed period and links to the changes to accept; each
    reader gets it in their own language. Once per alert."""
    alert = ChangeAlert.objects.select_related("client_file__firm").filter(pk=alert_id).first()
    if alert is None or alert.status != ChangeAlert.Status.OPEN:
        return False
    client_file = alert.client_file
    firm = client_file.firm
    recipients = selectors.closed_period_alert_recipients(firm=firm)
    if not recipients:
        return False
    claim = _claim(firm=firm, kind=SentNotification.Kind.CLOSED_PERIOD_CHANGES, subject_id=alert.pk)
    if claim is None:
        return False
    context = {
        "firm": firm,
        "client_file": client_file,
        "locked_until": client_file.books_locked_until,
        "effects": change_alert_effects(alert=alert),
        "file_count": 1,
        "alert_url": _url(reverse("change_alerts", args=[firm.slug, client_file.pk])),
        "settings_url": _url(reverse("notification_settings", args=[firm.slug])),
    }
    by_language: dict[str, list[str]] = {}
    for membership in recipients:
        language = user_language(user=membership.user) or firm.default_language or settings.LANGUAGE_CODE
        by_language.setdefault(language, []).append(membership.user.email)
    return _send(claim=claim, groups=by_language, template="closed_period_changes", context=context)


def send_daily_digest(*, membership: Membership, now: dt.datetime | None = None) -> bool:
    """The person's digest: the files whose sync failed or has issues since their last digest (the last
    day for a first one), grouped by cause. Nothing when all is in step; at most one a day."""
    now = now or timezone.now()
    firm = membership.firm
    since = selectors.last_digest_at(firm=firm, user_id=membership.user_id) or now - dt.timedelta(days=1)
    groups = selectors.digest_groups(membership=membership, since=since)
    if not groups:
        return False
    claim = _claim(firm=firm, kind=SentNotification.Kind.DAILY_DIGEST, subject_id=membership.user_id)
    if claim is None:
        return False
    overview = reverse("firm_overview", args=[firm.slug])
    context = {
        "firm": firm,
        "groups": [
            {
                "label": group.label,
                "hint": group.hint,
                "count": len(group.files),
                "more": max(0, len(group.files) - FILES_LISTED),
                "files": [
                    {
                        "name": f.name,
                        "file_code": f.file_code,
                        "url": _url(reverse("client_file_detail", args=[firm.slug, f.pk])),
                    }
                    for f in group.files[:FILES_LISTED]
                ],
            }
            for group in groups
        ],
        "file_count": sum(len(group.files) for group in groups),
        "attention_url": _url(overview, status="attention"),
        "settings_url": _url(reverse("notification_settings", args=[firm.slug])),
    }
    return _send(
        claim=claim,
        groups={user_language(user=membership.user) or firm.default_language: [membership.user.email]},
        template="daily_digest",
        context=context,
    )


def send_daily_digests(*, now: dt.datetime | None = None) -> int:
    """Every firm's digests (beat, once a day); the number of mails sent."""
    sent = 0
    for firm in Firm.objects.order_by("pk"):
        for membership in selectors.digest_recipients(firm=firm):
            sent += send_daily_digest(membership=membership, now=now)
    return sent


def notification_settings_set(
    *,
    membership: Membership,
    daily_digest: bool,
    reconnect_alerts: bool,
    closed_period_alerts: bool = False,
) -> NotificationSetting:
    setting, _ = NotificationSetting.objects.update_or_create(
        user_id=membership.user_id,
        firm=membership.firm,
        defaults={
            "daily_digest": daily_digest,
            "reconnect_alerts": reconnect_alerts if membership.role == "admin" else None,
            # Only those who may accept the changes can ask to be told about them.
            "closed_period_alerts": closed_period_alerts and membership.role in {Role.ADMIN, Role.STAFF},
        },
    )
    return setting
