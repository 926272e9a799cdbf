from django.contrib import admin

from .models import Video, WebhookDelivery


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "vidproc_id", "external_id", "updated")
    list_filter = ("status",)
    search_fields = ("title", "vidproc_id", "external_id")
    readonly_fields = ("external_id", "created", "updated", "last_event_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "event", "received_at")
