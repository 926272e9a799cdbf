"""Tests of the vidproc integration.

WebhookTests sign bodies the way vidproc does (the known vector pins it to vidproc's own test of
its signer) and post them to the view. The other classes talk to a real `vidproc serve` named by
VIDPROC_URL / VIDPROC_API_TOKEN (examples/django/run_tests.sh starts one); without one they are
skipped, unless VIDPROC_TESTS_REQUIRED=1 (run_tests.sh sets it), when they fail instead.
"""
import base64
import json
import os
import secrets
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.test import Client, LiveServerTestCase, TestCase, override_settings
from django.urls import reverse

from . import vidproc
from .models import Video, WebhookDelivery

SECRET = "whsec_" + "0123456789abcdef" * 2
VIDPROC_URL = os.environ.get("VIDPROC_URL", "")
# The origin the site is served from in run_tests.sh (vidproc's VIDPROC_CORS_ORIGINS): requests of
# the test client carry its host, so that the view derives the cors_origin from it.
SITE_ORIGIN = os.environ.get("DJANGO_SITE_ORIGIN", "http://testserver")
SITE_HOST = urllib.parse.urlsplit(SITE_ORIGIN).netloc


def require_vidproc(test_case):
    if VIDPROC_URL:
        return
    if os.environ.get("VIDPROC_TESTS_REQUIRED") == "1":
        test_case.fail("VIDPROC_URL is not set, and these tests are required (VIDPROC_TESTS_REQUIRED=1)")
    raise unittest.SkipTest("VIDPROC_URL is not set: no vidproc to test against")


def event_body(video, event="video.ready", status=None, created_at=None, delivery_id=None, **resource):
    """A delivery body shaped like vidproc's (docs/API.md, Webhooks), as bytes."""
    vid = "nL7RJs05lFbkQ-Km9ajF9E"
    rendered = {
        "id": vid,
        "status": status or {"video.ready": "ready", "video.failed": "failed", "video.deleted": "ready"}[event],
        "filename": "holiday.mov",
        "external_id": str(video.external_id),
        "metadata": {"site_video_id": video.pk, "title": video.title},
        "error": None,
        "video_url": f"/api/v1/videos/{vid}/video?expires=1900000000&sig=ab12",
        "thumbnail_url": f"/api/v1/videos/{vid}/thumbnail?expires=1900000000&sig=cd34",
    }
    rendered.update(resource)
    created_at = created_at or datetime.now(timezone.utc)
    return json.dumps(
        {"id": delivery_id or "evt_" + secrets.token_hex(16), "event": event,
         "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "video": rendered},
        separators=(",", ":"),
    ).encode()


@override_settings(VIDPROC_WEBHOOK_SECRET=SECRET, VIDPROC_URL="https://video.example.com",
                   VIDPROC_WEBHOOK_TOLERANCE_SECONDS=300)
class WebhookTests(TestCase):
    def setUp(self):
        self.video = Video.objects.create(title="Holiday")
        self.url = reverse("videos:webhook")

    def post(self, body, *, secret=SECRET, timestamp=None, signature=None):
        if signature is None:
            signature = vidproc.sign_webhook(secret, int(time.time()) if timestamp is None else timestamp, body)
        headers = {}
        if signature:
            headers["HTTP_X_VIDPROC_SIGNATURE"] = signature
        return self.client.post(self.url, body, content_type="application/json", **headers)

    def test_signature_matches_vidprocs_known_vector(self):
        # The vector of tests/worker/webhook_test.cc (WebhookSignatureTest.MatchesAKnownVector).
        self.assertEqual(
            vidproc.sign_webhook("whsec_test", 1700000000, b'{"event":"video.ready","video":{"id":"abc"}}'),
            "t=1700000000,v1=c4a1d7840279ce728f999de10fb12193c5652448419b76603f07417a99d33277",
        )

    def test_ready_stores_status_and_absolute_links(self):
        response = self.post(event_body(self.video))
        self.assertEqual(response.status_code, 200, response.content)
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "ready")
        self.assertEqual(self.video.vidproc_id, "nL7RJs05lFbkQ-Km9ajF9E")
        self.assertEqual(self.video.video_url,
                         "https://video.example.com/api/v1/videos/nL7RJs05lFbkQ-Km9ajF9E/video?expires=1900000000&sig=ab12")
        self.assertEqual(self.video.thumbnail_url,
                         "https://video.example.com/api/v1/videos/nL7RJs05lFbkQ-Km9ajF9E/thumbnail?expires=1900000000&sig=cd34")
        self.assertEqual(WebhookDelivery.objects.count(), 1)

    def test_absolute_links_are_kept(self):
        self.post(event_body(self.video, video_url="https://cdn.example.net/videos/x/video.mp4",
                             thumbnail_url="https://cdn.example.net/videos/x/thumbnail.jpg"))
        self.video.refresh_from_db()
        self.assertEqual(self.video.video_url, "https://cdn.example.net/videos/x/video.mp4")
        self.assertEqual(self.video.thumbnail_url, "https://cdn.example.net/videos/x/thumbnail.jpg")

    def test_failed_stores_the_error(self):
        error = {"code": "not_a_video", "message": "The file is not a video.", "retryable": False}
        response = self.post(event_body(self.video, "video.failed", error=error, video_url=None, thumbnail_url=None))
        self.assertEqual(response.status_code, 200, response.content)
        self.video.refresh_from_db()
        self.assertEqual((self.video.status, self.video.error_code, self.video.error_message, self.video.error_retryable),
                         ("failed", "not_a_video", "The file is not a video.", False))
        self.assertEqual(self.video.video_url, "")

    def test_wrong_secret_is_refused_and_changes_nothing(self):
        response = self.post(event_body(self.video), secret="another-secret-entirely")
        self.assertEqual(response.status_code, 400)
        self.assertIn(b"signature mismatch", response.content)
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "uploading")
        self.assertEqual(WebhookDelivery.objects.count(), 0)

    def test_body_changed_after_signing_is_refused(self):
        body = event_body(self.video)
        signature = vidproc.sign_webhook(SECRET, int(time.time()), body)
        response = self.post(body.replace(b'"ready"', b'"failed"', 1), signature=signature)
        self.assertEqual(response.status_code, 400)
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "uploading")

    def test_missing_or_malformed_signature_is_refused(self):
        for signature in ("", "v1=abc", "t=notanumber,v1=abc", f"t={int(time.time())}"):
            with self.subTest(signature=signature):
                self.assertEqual(self.post(event_body(self.video), signature=signature).status_code, 400)
        self.assertEqual(WebhookDelivery.objects.count(), 0)

    def test_stale_and_future_timestamps_are_refused(self):
        now = int(time.time())
        for timestamp in (now - 301, now - 86400, now + 301):
            with self.subTest(timestamp=timestamp):
                response = self.post(event_body(self.video), timestamp=timestamp)
                self.assertEqual(response.status_code, 400)
                self.assertIn(b"tolerance", response.content)
        # Within the tolerance it is accepted (vidproc's clock may be a little off).
        self.assertEqual(self.post(event_body(self.video), timestamp=now - 200).status_code, 200)

    def test_a_duplicate_delivery_is_applied_once(self):
        body = event_body(self.video, "video.failed", error={"code": "timeout", "message": "m", "retryable": True})
        self.assertEqual(self.post(body).json()["result"], "failed")
        # The site's own change in between: the repeated delivery must not undo it.
        Video.objects.filter(pk=self.video.pk).update(status="processing")
        again = self.post(body)  # signed anew, as vidproc does on each attempt
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["result"], "duplicate")
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "processing")
        self.assertEqual(WebhookDelivery.objects.count(), 1)

    def test_an_older_event_arriving_late_is_ignored(self):
        now = datetime.now(timezone.utc)
        self.post(event_body(self.video, "video.ready", created_at=now))
        late = self.post(event_body(self.video, "video.failed", created_at=now - timedelta(minutes=5),
                                    error={"code": "timeout", "message": "m", "retryable": True}))
        self.assertEqual(late.status_code, 200)
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "ready")

    def test_deleted_is_final(self):
        now = datetime.now(timezone.utc)
        self.post(event_body(self.video, "video.deleted", created_at=now))
        self.video.refresh_from_db()
        self.assertEqual((self.video.status, self.video.video_url), ("deleted", ""))
        self.post(event_body(self.video, "video.ready", created_at=now + timedelta(seconds=5)))
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "deleted")

    def test_a_video_that_is_not_ours_is_acknowledged(self):
        body = event_body(self.video, external_id="order-17")
        response = self.post(body)
        self.assertEqual(response.status_code, 200)  # else vidproc retries it for days
        self.assertEqual(response.json()["result"], "unknown video")
        self.video.refresh_from_db()
        self.assertEqual(self.video.status, "uploading")

    def test_not_a_vidproc_body_is_refused(self):
        self.assertEqual(self.post(b'{"hello": "world"}').status_code, 400)
        self.assertEqual(self.post(b"not json").status_code, 400)

    def test_only_post(self):
        self.assertEqual(self.client.get(self.url).status_code, 405)

    @override_settings(VIDPROC_WEBHOOK_SECRET="")
    def test_without_a_secret_everything_is_refused(self):
        self.assertEqual(self.post(event_body(self.video), secret="").status_code, 400)


class PageTests(TestCase):
    def test_index_has_the_upload_form_and_tus_client(self):
        Video.objects.create(title="Old one", status="ready", thumbnail_url="https://v.example/t.jpg")
        html = self.client.get(reverse("videos:index")).content.decode()
        self.assertIn('id="upload-form"', html)
        self.assertIn("csrfmiddlewaretoken", html)
        self.assertIn("videos/vendor/tus.min.js", html)
        self.assertIn('src="https://v.example/t.jpg"', html)

    def test_ready_video_plays(self):
        video = Video.objects.create(title="Ready", status="ready", video_url="https://v.example/v.mp4?expires=4000000000&sig=1",
                                     thumbnail_url="https://v.example/t.jpg")
        html = self.client.get(video.get_absolute_url()).content.decode()
        self.assertIn('<video id="player" src="https://v.example/v.mp4?expires=4000000000&amp;sig=1"', html)
        self.assertIn('<img class="thumb" src="https://v.example/t.jpg"', html)
        self.assertIn('data-status="ready"', html)
        self.assertNotIn("videos/status.js", html)

    def test_processing_and_failed_states(self):
        processing = Video.objects.create(title="P", status="processing")
        html = self.client.get(processing.get_absolute_url()).content.decode()
        self.assertIn("Processing…", html)
        self.assertIn("videos/status.js", html)
        self.assertNotIn("<video", html)
        failed = Video.objects.create(title="F", status="failed", error_code="not_a_video", error_message="Not a video.")
        html = self.client.get(failed.get_absolute_url()).content.decode()
        self.assertIn("Processing failed: Not a video.", html)
        self.assertNotIn("<video", html)

    def test_status_json(self):
        video = Video.objects.create(title="S", status="queued")
        self.assertEqual(self.client.get(reverse("videos:status", args=[video.pk])).json()["status"], "queued")


def tus_request(url, method, headers, body=None):
    request = urllib.request.Request(url, data=body, method=method, headers={"Tus-Resumable": "1.0.0", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def tus_metadata(**values):
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class DirectUploadTests(TestCase):
    """The direct-upload view against the real vidproc."""

    def setUp(self):
        require_vidproc(self)
        self.url = reverse("videos:direct_upload")

    def create(self, **body):
        return self.client.post(self.url, json.dumps({"title": "Trip", "filename": "trip.mp4", "size": 1000, **body}),
                                content_type="application/json", HTTP_HOST=SITE_HOST)

    def test_creates_a_single_use_upload_url_for_this_site(self):
        response = self.create(title="Trip\x1b[31m to the sea")
        self.assertEqual(response.status_code, 201, response.content)
        answer = response.json()
        video = Video.objects.get()
        self.assertEqual(answer["video_page"], video.get_absolute_url())
        self.assertEqual(video.title, "Trip[31m to the sea")  # the control character is gone
        self.assertTrue(video.vidproc_id)
        upload_url = answer["upload_url"]
        self.assertTrue(upload_url.startswith(settings.VIDPROC_URL + "/"), upload_url)
        origin = SITE_ORIGIN  # the cors_origin the view sent

        # The browser's preflight, then the tus creation with no Authorization header.
        status, headers = tus_request(upload_url, "OPTIONS", {
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "tus-resumable,upload-length,upload-metadata"})
        self.assertIn(status, (200, 204), f"preflight of {upload_url}: {status}")
        self.assertEqual(headers.get("Access-Control-Allow-Origin"), origin)
        data = b"\0" * 1000
        status, headers = tus_request(upload_url, "POST", {
            "Origin": origin, "Upload-Length": str(len(data)), "Upload-Metadata": tus_metadata(filename="trip.mp4")})
        self.assertEqual(status, 201, f"tus creation at {upload_url}")
        self.assertEqual(headers.get("Access-Control-Allow-Origin"), origin)
        self.assertTrue(headers.get("Location"), "tus creation answered no Location")

        # vidproc's video carries this site's ids.
        resource = vidproc.get_video(video.vidproc_id)
        self.assertEqual(resource["external_id"], str(video.external_id))
        self.assertEqual(resource["metadata"], {"site_video_id": video.pk, "title": "Trip[31m to the sea"})

        # Single use: a second creation through the same URL is refused.
        status, _ = tus_request(upload_url, "POST", {
            "Origin": origin, "Upload-Length": "10", "Upload-Metadata": tus_metadata(filename="again.mp4")})
        self.assertGreaterEqual(status, 400, "a direct-upload URL worked twice")

    def test_the_upload_url_answers_cors_for_the_requests_own_origin_only(self):
        # An origin that is not in vidproc's VIDPROC_CORS_ORIGINS: only the cors_origin the view
        # derived from the request's Host can allow it.
        response = self.client.post(self.url, json.dumps({"title": "T"}), content_type="application/json",
                                    HTTP_HOST="localhost:8123")
        self.assertEqual(response.status_code, 201, response.content)
        upload_url = response.json()["upload_url"]
        preflight = {"Access-Control-Request-Method": "PATCH",
                     "Access-Control-Request-Headers": "tus-resumable,upload-offset,content-type"}
        _, headers = tus_request(upload_url, "OPTIONS", {"Origin": "http://localhost:8123", **preflight})
        self.assertEqual(headers.get("Access-Control-Allow-Origin"), "http://localhost:8123")
        _, headers = tus_request(upload_url, "OPTIONS", {"Origin": "https://elsewhere.example", **preflight})
        self.assertIsNone(headers.get("Access-Control-Allow-Origin"))

    def test_csrf_is_required(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post(self.url, "{}", content_type="application/json")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(Video.objects.count(), 0)

    def test_only_post(self):
        self.assertEqual(self.client.get(self.url).status_code, 405)

    def test_a_file_over_the_limit_is_refused_here(self):
        with self.settings(VIDPROC_MAX_UPLOAD_BYTES=999):
            self.assertEqual(self.create().status_code, 413)
        self.assertEqual(Video.objects.count(), 0)

    def test_a_wrong_token_is_a_502_and_keeps_no_video(self):
        with self.settings(VIDPROC_API_TOKEN="not-the-token-of-this-vidproc"):
            response = self.create()
        self.assertEqual(response.status_code, 502)
        self.assertEqual(response.json()["code"], "unauthorized")
        self.assertEqual(Video.objects.count(), 0)

    def test_vidproc_unreachable_is_a_502(self):
        with self.settings(VIDPROC_URL="http://127.0.0.1:9"):
            response = self.create()
        self.assertEqual(response.status_code, 502)
        self.assertEqual(response.json()["code"], "unreachable")
        self.assertEqual(Video.objects.count(), 0)


class RealDeliveryTests(LiveServerTestCase):
    """vidproc's own deliveries: a file sent through a direct upload, processed by the real
    vidproc, whose signed webhooks reach this live server (run_tests.sh starts vidproc with
    WEBHOOK_URL on DJANGO_LIVE_TEST_PORT) and make the Video ready."""

    host = "127.0.0.1"
    port = int(os.environ.get("DJANGO_LIVE_TEST_PORT", "0"))

    def setUp(self):
        require_vidproc(self)
        self.clip = os.environ.get("DJANGO_TEST_CLIP", "")
        if not self.port or not os.path.isfile(self.clip):
            self.fail("DJANGO_LIVE_TEST_PORT and DJANGO_TEST_CLIP (a video file) must be set")

    def test_a_processed_upload_becomes_ready_through_the_webhook(self):
        response = self.client.post(reverse("videos:direct_upload"),
                                    json.dumps({"title": "Real", "filename": "clip.mp4"}), content_type="application/json",
                                    HTTP_HOST=SITE_HOST)
        self.assertEqual(response.status_code, 201, response.content)
        upload_url = response.json()["upload_url"]
        with open(self.clip, "rb") as f:
            data = f.read()
        status, headers = tus_request(upload_url, "POST", {
            "Upload-Length": str(len(data)), "Upload-Metadata": tus_metadata(filename=os.path.basename(self.clip))})
        self.assertEqual(status, 201)
        status, _ = tus_request(urllib.parse.urljoin(upload_url, headers["Location"]), "PATCH", {
            "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}, data)
        self.assertEqual(status, 204)

        video = Video.objects.get()
        deadline = time.time() + 90
        while video.status != "ready" and time.time() < deadline:
            self.assertNotEqual(video.status, "failed", f"{video.error_code}: {video.error_message}")
            time.sleep(0.5)
            video.refresh_from_db()
        self.assertEqual(video.status, "ready", "no video.ready webhook applied in 90 s")
        self.assertTrue(WebhookDelivery.objects.filter(event="video.ready").exists())
        self.assertTrue(video.video_url.startswith("http"), video.video_url)
        # The stored link serves the MP4 without any header (it is signed).
        with urllib.request.urlopen(urllib.request.Request(video.video_url, headers={"Range": "bytes=0-11"}),
                                    timeout=10) as media:
            self.assertEqual(media.read()[4:8], b"ftyp")

        # Stored links about to expire: the video page asks vidproc for fresh ones.
        fresh_url = video.video_url
        Video.objects.filter(pk=video.pk).update(video_url=f"{VIDPROC_URL}/stale?expires={int(time.time()) + 60}&sig=0")
        html = self.client.get(video.get_absolute_url(), HTTP_HOST=SITE_HOST).content.decode()
        video.refresh_from_db()
        self.assertEqual(video.video_url, fresh_url)
        self.assertIn(f'<video id="player" src="{fresh_url.replace("&", "&amp;")}"', html)
