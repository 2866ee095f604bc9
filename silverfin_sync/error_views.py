"""The site's 403 and 404 pages, with the reason the product gave, in the reader's language.

The product raises ``Http404``/``PermissionDenied`` with a translated sentence written for the user ("Your role
(Pulse user) does not allow this.", "No such account in this client file."); those are shown under the
page's general explanation. Anything else that ends in a 404 (the URL resolver's ``Resolver404``, whose
message is a dict of tried patterns, Django's own views) keeps only the general page: its message is not
written for a user and may name internals.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


def _product_reason(exception: Exception | None, product_class: type[Exception]) -> str:
    if type(exception) is not product_class or not exception.args:
        return ""
    message = exception.args[0]
    return str(message) if isinstance(message, str) else ""


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", {"reason": _product_reason(exception, PermissionDenied)}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", {"reason": _product_reason(exception, Http404)}, status=404)
