"""Small pieces every app's thin views share."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, for views behind ``login_required``."""
    assert isinstance(request.user, User)
    return request.user


def add_service_errors(form: Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when it names one, else on the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
