from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from clients.forms import ThrottledAdminAuthenticationForm
from clients.views import LoginView, PasswordResetView
from silverfin_sync.converters import IdConverter

register_converter(IdConverter, "id")  # before the apps' URLs, which use it

admin.site.site_header = "Silverfin sync: operators"
# The admin's log-in goes through the same throttle as the site's (clients/throttle.py).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's own password pages (templates/registration/); the reset link goes out through Django's mail
    # settings (EMAIL_URL).
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password/reset/", PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("", include("clients.urls")),
    path("", include("administration.urls")),
    path("", include("syncs.urls")),
    path("", include("syncs.ledger_urls")),
    path("", include("notifications.urls")),
]

handler403 = "silverfin_sync.error_views.permission_denied"
handler404 = "silverfin_sync.error_views.page_not_found"
