"""Refuse oversized requests before anything reads the body (CSRF parsing included)."""

from django.conf import settings
from django.shortcuts import render

from apps.core.logparse.limits import human_bytes


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            return render(
                request,
                "ingestion/too_large.html",
                {"limit": human_bytes(settings.MAX_REQUEST_BYTES), "size": human_bytes(length)},
                status=413,
            )
        return self.get_response(request)
