"""The client file's ledger and sync history pages, under the client file's own URL."""

from django.urls import path

from . import ledger_views, lock_views

client = "firms/<slug:firm_slug>/clients/<id:client_file_id>"

urlpatterns = [
    path(f"{client}/sync/status/", ledger_views.client_sync_status, name="client_sync_status"),
    path(f"{client}/trial-balance/", ledger_views.trial_balance, name="trial_balance"),
    path(f"{client}/trial-balance.csv", ledger_views.trial_balance_csv, name="trial_balance_csv"),
    path(f"{client}/trial-balance.xlsx", ledger_views.trial_balance_xlsx, name="trial_balance_xlsx"),
    path(f"{client}/accounts/<id:account_id>/", ledger_views.account_lines, name="account_lines"),
    path(f"{client}/entries/<id:entry_id>/", ledger_views.entry_detail, name="entry_detail"),
    path(f"{client}/history/", ledger_views.sync_history, name="sync_history"),
    path(f"{client}/lock/", lock_views.books_lock, name="books_lock"),
    path(f"{client}/closed-periods/", lock_views.change_alerts, name="change_alerts"),
    path(
        f"{client}/closed-periods/<id:alert_id>/accept/",
        lock_views.change_alert_accept,
        name="change_alert_accept",
    ),
    path(f"{client}/history/<id:run_id>/", ledger_views.sync_run_detail, name="sync_run_detail"),
]
