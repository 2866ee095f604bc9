from django.contrib import admin

from .models import ClientFile, Firm, Membership


@admin.register(Firm)
class FirmAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(ClientFile)
class ClientFileAdmin(admin.ModelAdmin):
    list_display = ["name", "file_code", "firm"]
    list_filter = ["firm"]
    search_fields = ["name", "file_code"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "firm", "role"]
    list_filter = ["firm", "role"]
    filter_horizontal = ["client_files"]
