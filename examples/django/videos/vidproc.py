"""The little of vidproc's HTTP API this site uses, with the standard library only.

- create_direct_upload: POST /api/v1/direct-uploads with the API token (server side only: the
  token never reaches a browser), answering the single-use tus URL the browser uploads to.
- get_video: GET /api/v1/videos/{id}, for fresh signed media links.
- verify_webhook: the X-Vidproc-Signature check of a webhook delivery.
"""
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings


class VidprocError(Exception):
    """vidproc refused a request or could not be reached: `status` 0 when unreachable."""

    def __init__(self, status, code, message):
        super().__init__(f"vidproc: {code}: {message}" if status else f"vidproc unreachable: {message}")
        self.status = status
        self.code = code
        self.message = message


def absolute_url(url):
    """vidproc's links are relative to its API's origin unless it has VIDPROC_PUBLIC_URL set."""
    if not url:
        return ""
    return urllib.parse.urljoin(settings.VIDPROC_URL + "/", url)


def _request(method, path, body=None):
    headers = {"Accept": "application/json"}
    if settings.VIDPROC_API_TOKEN:
        headers["Authorization"] = f"Bearer {settings.VIDPROC_API_TOKEN}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(settings.VIDPROC_URL + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=settings.VIDPROC_TIMEOUT_SECONDS) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        # vidproc's errors are {"error": {"code", "message", ...}}; a proxy's may be anything.
        code, message = "http_error", f"HTTP {e.code}"
        try:
            error = json.loads(e.read())["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            pass
        raise VidprocError(e.code, code, message) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise VidprocError(0, "unreachable", str(getattr(e, "reason", e))) from None


def create_direct_upload(*, external_id, metadata, cors_origin, max_bytes):
    """Returns {"id", "upload_url" (absolute), "expires_at"}; raises VidprocError."""
    answer = _request(
        "POST",
        "/api/v1/direct-uploads",
        {"external_id": external_id, "metadata": metadata, "max_bytes": max_bytes, "cors_origin": cors_origin},
    )
    if not isinstance(answer, dict) or not answer.get("upload_url"):
        raise VidprocError(502, "bad_answer", "POST /api/v1/direct-uploads answered no upload_url")
    answer["upload_url"] = absolute_url(answer["upload_url"])
    return answer


def get_video(vidproc_id):
    return _request("GET", "/api/v1/videos/" + urllib.parse.quote(vidproc_id, safe=""))


class WebhookSignatureError(Exception):
    pass


def sign_webhook(secret, timestamp, body):
    """The X-Vidproc-Signature value vidproc sends: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_webhook(secret, header, body, *, tolerance_seconds, now=None):
    """Checks `header` (X-Vidproc-Signature) against the raw request `body` (bytes).

    The timestamp is inside the signed text, so refusing one far from our clock stops a captured
    delivery from being replayed later; the digests are compared in constant time.
    Raises WebhookSignatureError with the reason.
    """
    if not secret:
        raise WebhookSignatureError("VIDPROC_WEBHOOK_SECRET is not set: refusing unsigned deliveries")
    if not header:
        raise WebhookSignatureError("no X-Vidproc-Signature header")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise WebhookSignatureError("malformed X-Vidproc-Signature header")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise WebhookSignatureError("signature timestamp outside the tolerance (stale or replayed delivery)")
    expected = sign_webhook(secret, timestamp, body).split("v1=", 1)[1]
    # Every candidate is compared, so the time taken does not tell which one came close.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii", "replace"))
    if not matched:
        raise WebhookSignatureError("signature mismatch")
