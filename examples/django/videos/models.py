import uuid

from django.db import models
from django.urls import reverse


class Video(models.Model):
    """A video of this site whose file vidproc processes.

    `external_id` is what vidproc stores as the upload's external_id and sends back in every
    webhook: the link between its video and this row, known before any byte is uploaded. A UUID
    rather than the primary key, so that the ids of other rows cannot be guessed from it.
    """

    class Status(models.TextChoices):
        UPLOADING = "uploading", "Uploading"
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted"

    title = models.CharField(max_length=200)
    external_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    vidproc_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADING)
    # Links as vidproc gives them (absolute). With a token on vidproc they are signed and expire
    # (VIDPROC_SIGNED_URL_MAX_SECONDS, 24 h): views.video_detail asks for fresh ones when needed.
    thumbnail_url = models.TextField(blank=True)
    video_url = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_retryable = models.BooleanField(default=False)
    # created_at of the newest webhook event applied: deliveries are not ordered.
    last_event_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.title} ({self.status})"

    def get_absolute_url(self):
        return reverse("videos:detail", args=[self.pk])

    @property
    def is_pending(self):
        return self.status in (self.Status.UPLOADING, self.Status.QUEUED, self.Status.PROCESSING)


class WebhookDelivery(models.Model):
    """A webhook delivery applied once: vidproc delivers at least once, with the same id."""

    delivery_id = models.CharField(max_length=64, primary_key=True)
    event = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.delivery_id} {self.event}"
