"""What syncs tells the rest of the project, without knowing who listens (``notifications`` does)."""

from django.dispatch import Signal

# Sent once when a connection starts needing reconnecting (inside the transaction that marks it); the
# argument ``connection_id``. Receivers act on commit.
connection_needs_reconnect = Signal()
