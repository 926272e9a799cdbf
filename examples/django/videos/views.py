import json
import logging
import re
import time
import urllib.parse
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import vidproc
from .models import Video, WebhookDelivery

log = logging.getLogger(__name__)

# vidproc refuses metadata strings with control or bidirectional formatting characters
# (docs/API.md, "external_id and metadata"): a title typed by a user is cleaned before it goes.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Signed media links are asked for again when they expire within this.
_LINK_REFRESH_MARGIN_SECONDS = 3600


@require_GET
def index(request):
    return render(request, "videos/index.html", {"videos": Video.objects.exclude(status=Video.Status.DELETED)[:50]})


def _site_origin(request):
    if settings.VIDPROC_SITE_ORIGIN:
        return settings.VIDPROC_SITE_ORIGIN
    return f"{request.scheme}://{request.get_host()}"


@require_POST
def create_direct_upload(request):
    """Creates a Video and a vidproc direct upload for it; the browser then sends the file itself.

    Body: JSON {"title", "filename", "size"}. Answers 201 {"upload_url", "expires_at",
    "video_page"}; 400 for a bad request, 413 for a file over VIDPROC_MAX_UPLOAD_BYTES, 502 when
    vidproc refused or could not be reached (the Video is not kept then).
    """
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The request body is not JSON."}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "The request body is not a JSON object."}, status=400)
    title = _UNSAFE_CHARS.sub("", str(body.get("title") or "")).strip()[:200]
    filename = _UNSAFE_CHARS.sub("", str(body.get("filename") or "")).strip()
    title = title or filename[:200] or "Untitled"
    size = body.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        return JsonResponse({"error": "size must be a whole number of bytes."}, status=400)
    if size is not None and size > settings.VIDPROC_MAX_UPLOAD_BYTES:
        return JsonResponse({"error": f"The file is larger than {settings.VIDPROC_MAX_UPLOAD_BYTES} bytes."}, status=413)

    video = Video.objects.create(title=title)
    try:
        upload = vidproc.create_direct_upload(
            external_id=str(video.external_id),
            metadata={"title": title, "site_video_id": video.pk},
            cors_origin=_site_origin(request),
            max_bytes=settings.VIDPROC_MAX_UPLOAD_BYTES,
        )
    except vidproc.VidprocError as e:
        log.error("direct upload for video %s refused: %s", video.pk, e)
        video.delete()
        return JsonResponse({"error": "The video service could not take the upload now. Try again later.",
                             "code": e.code}, status=502)
    # The direct upload's id is the id of the video it will become (vidproc creates the video
    # now, waiting for its file): the webhooks carry it too.
    video.vidproc_id = str(upload.get("id") or "")
    video.save(update_fields=["vidproc_id", "updated"])
    return JsonResponse(
        {"upload_url": upload["upload_url"], "expires_at": upload.get("expires_at"),
         "video_page": reverse("videos:detail", args=[video.pk])},
        status=201,
    )


def _link_expiry(url):
    """The `expires` of a signed vidproc link, or None for an unsigned one."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    try:
        return int(query["expires"][0])
    except (KeyError, ValueError, IndexError):
        return None


def _refresh_links_if_expiring(video):
    """Signed links die after a day: ask vidproc for the video again when ours are near that."""
    if video.status != Video.Status.READY or not video.vidproc_id:
        return
    expiry = _link_expiry(video.video_url)
    if expiry is None or expiry - time.time() > _LINK_REFRESH_MARGIN_SECONDS:
        return
    try:
        resource = vidproc.get_video(video.vidproc_id)
    except vidproc.VidprocError as e:
        log.warning("fresh links for video %s: %s", video.pk, e)
        return
    video.video_url = vidproc.absolute_url(resource.get("video_url"))
    video.thumbnail_url = vidproc.absolute_url(resource.get("thumbnail_url"))
    video.save(update_fields=["video_url", "thumbnail_url", "updated"])


@require_GET
def video_detail(request, pk):
    video = get_object_or_404(Video, pk=pk)
    _refresh_links_if_expiring(video)
    return render(request, "videos/detail.html", {"video": video})


@require_GET
def video_status(request, pk):
    video = get_object_or_404(Video, pk=pk)
    return JsonResponse({"status": video.status, "updated": video.updated.isoformat()})


def _apply_event(video, event, event_at, resource):
    """Brings `video` up to a webhook event; returns what was done (for the log and the answer)."""
    if video.status == Video.Status.DELETED:
        return "ignored: the video was deleted"
    if video.last_event_at and event_at and event_at < video.last_event_at:
        return "ignored: older than the last event applied"
    video.vidproc_id = str(resource.get("id") or video.vidproc_id)
    if event_at:
        video.last_event_at = event_at
    if event == "video.deleted":
        video.status = Video.Status.DELETED
        video.video_url = video.thumbnail_url = ""
        return "deleted"
    # The resource is rendered when sent: its status may have moved on from the event's (a
    # failed video retried since is queued), and it is what is true now.
    status = resource.get("status")
    if status not in Video.Status.values:
        return f"ignored: unknown status {status!r}"
    video.status = status
    if status == Video.Status.READY:
        video.video_url = vidproc.absolute_url(resource.get("video_url"))
        video.thumbnail_url = vidproc.absolute_url(resource.get("thumbnail_url"))
        video.error_code = video.error_message = ""
        video.error_retryable = False
    elif status == Video.Status.FAILED:
        error = resource.get("error") or {}
        video.error_code = str(error.get("code") or "")
        video.error_message = str(error.get("message") or "")
        video.error_retryable = bool(error.get("retryable"))
        video.video_url = video.thumbnail_url = ""
    return status


@csrf_exempt  # vidproc is not a browser: the signature is what authenticates it.
@require_POST
def vidproc_webhook(request):
    body = request.body
    try:
        vidproc.verify_webhook(
            settings.VIDPROC_WEBHOOK_SECRET,
            request.headers.get("X-Vidproc-Signature", ""),
            body,
            tolerance_seconds=settings.VIDPROC_WEBHOOK_TOLERANCE_SECONDS,
        )
    except vidproc.WebhookSignatureError as e:
        log.warning("webhook refused: %s", e)
        return JsonResponse({"error": str(e)}, status=400)
    try:
        payload = json.loads(body)
        delivery_id = payload["id"]
        event = payload["event"]
        resource = payload["video"]
        if not (isinstance(delivery_id, str) and delivery_id.startswith("evt_") and isinstance(resource, dict)):
            raise ValueError(delivery_id)
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "not a vidproc webhook body"}, status=400)
    event_at = parse_datetime(str(payload.get("created_at") or ""))

    try:
        external_id = uuid.UUID(str(resource.get("external_id")))
    except ValueError:
        external_id = None

    with transaction.atomic():
        # The delivery's id goes in with the change it causes: a duplicate finds it, and a
        # failure below rolls both back so that vidproc's retry is applied.
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(delivery_id=delivery_id, event=str(event)[:32])
        except IntegrityError:
            log.info("webhook %s (%s): duplicate, ignored", delivery_id, event)
            return JsonResponse({"result": "duplicate"})
        video = Video.objects.select_for_update().filter(external_id=external_id).first() if external_id else None
        if video is None:
            # Not ours (another site on the same vidproc, or a video deleted here): a 2xx, or
            # vidproc would retry it for days.
            log.info("webhook %s (%s): no video with external_id %r", delivery_id, event, resource.get("external_id"))
            return JsonResponse({"result": "unknown video"})
        result = _apply_event(video, event, event_at, resource)
        video.save()
    log.info("webhook %s (%s) for video %s: %s", delivery_id, event, video.pk, result)
    return JsonResponse({"result": result})
