"""What syncs tells the rest of the project, without knowing who listens (``notifications`` does)."""

from django.dispatch import Signal

# Sent once when a connection starts needing reconnecting (inside the transaction that marks it); the
# argument ``connection_id``. Receivers act on commit.
connection_needs_reconnect = Signal()

# Sent when a sync opens a change alert (changes reached closed periods and nobody has an open alert on the
# file yet), inside the run's transaction; the argument ``alert_id``. Receivers act on commit.
change_alert_opened = Signal()
