from django.urls import path

from . import views

urlpatterns = [
    path("firms/<slug:firm_slug>/notifications/", views.notification_settings, name="notification_settings"),
]
