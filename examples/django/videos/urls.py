from django.urls import path

from . import views

app_name = "videos"
urlpatterns = [
    path("", views.index, name="index"),
    path("videos/direct-upload/", views.create_direct_upload, name="direct_upload"),
    path("videos/<int:pk>/", views.video_detail, name="detail"),
    path("videos/<int:pk>/status.json", views.video_status, name="status"),
    path("webhooks/vidproc/", views.vidproc_webhook, name="webhook"),
]
