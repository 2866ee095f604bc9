from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("firms/<slug:firm_slug>/", views.firm_overview, name="firm_overview"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.language_switch, name="language_switch"),
]
