from django.urls import path

from . import views

urlpatterns = [
    path("firms/<slug:firm_slug>/syncs/", views.syncs_tab, name="syncs_tab"),
]
