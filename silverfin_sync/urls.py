from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from clients.forms import ThrottledAdminAuthenticationForm
from clients.views import LoginView

admin.site.site_header = "Silverfin sync: operators"
# The admin's log-in goes through the same throttle as the site's (clients/throttle.py).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("clients.urls")),
    path("", include("syncs.urls")),
    path("", include("syncs.ledger_urls")),
    path("", include("notifications.urls")),
]
