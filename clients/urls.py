from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("firms/<slug:firm_slug>/", views.firm_overview, name="firm_overview"),
    path(
        "firms/<slug:firm_slug>/clients/<int:client_file_id>/",
        views.client_file_detail,
        name="client_file_detail",
    ),
]
