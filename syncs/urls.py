from django.urls import path

from . import overview_views, views

firm = "firms/<slug:firm_slug>"
client = f"{firm}/clients/<id:client_file_id>"

urlpatterns = [
    path(f"{firm}/", overview_views.firm_overview, name="firm_overview"),
    path(f"{firm}/live/", overview_views.firm_overview_live, name="firm_overview_live"),
    path(f"{firm}/sync-now/", overview_views.firm_overview_sync_now, name="firm_overview_sync_now"),
    path(f"{firm}/syncs/", views.syncs_tab, name="syncs_tab"),
    path(f"{firm}/syncs/add/", views.sync_add, name="sync_add"),
    path(f"{firm}/syncs/add/package/", views.sync_add_package, name="sync_add_package"),
    path(f"{firm}/syncs/add/winbooks/", views.sync_connect_winbooks, name="sync_connect_winbooks"),
    path(f"{firm}/syncs/<id:connection_id>/reconnect/", views.sync_reconnect, name="sync_reconnect"),
    path(f"{firm}/syncs/<id:connection_id>/schedule/", views.sync_schedule, name="sync_schedule"),
    path(f"{firm}/syncs/<id:connection_id>/disconnect/", views.sync_disconnect, name="sync_disconnect"),
    path(f"{client}/", views.client_file_detail, name="client_file_detail"),
    path(f"{client}/link/", views.client_link, name="client_link"),
    path(f"{client}/unlink/", views.client_unlink, name="client_unlink"),
    path(f"{client}/sync/", views.client_sync_now, name="client_sync_now"),
]
