from django.urls import path

from . import views

firm = "firms/<slug:firm_slug>"
client = f"{firm}/clients/<id:client_file_id>"

urlpatterns = [
    path(f"{firm}/clients/add/", views.client_file_add, name="client_file_add"),
    path(f"{firm}/clients/import/", views.client_file_import, name="client_file_import"),
    path(
        f"{firm}/clients/import/<id:import_id>/",
        views.client_file_import_preview,
        name="client_file_import_preview",
    ),
    path(
        f"{firm}/clients/import/<id:import_id>/confirm/",
        views.client_file_import_confirm,
        name="client_file_import_confirm",
    ),
    path(f"{client}/edit/", views.client_file_edit, name="client_file_edit"),
    path(f"{client}/archive/", views.client_file_archive, name="client_file_archive"),
    path(f"{client}/unarchive/", views.client_file_unarchive, name="client_file_unarchive"),
    path(f"{firm}/people/", views.people, name="people"),
    path(f"{firm}/people/invite/", views.person_invite, name="person_invite"),
    path(f"{firm}/people/<id:membership_id>/", views.person_edit, name="person_edit"),
    path(f"{firm}/people/<id:membership_id>/remove/", views.person_remove, name="person_remove"),
    path(f"{firm}/invitations/<id:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"),
    path(f"{firm}/invitations/<id:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:invitation_token>/", views.invitation_accept, name="invitation_accept"),
]
