from django.contrib import admin  # type: ignore[import-not-found]  # the peer's own virtualenv
from django.urls import include, path  # type: ignore[import-not-found]  # the peer's own virtualenv

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),  # the UI and /api/
]
