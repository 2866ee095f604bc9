"""Background work of the firm's administration: tasks take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="administration.client_file_import_check")
def client_file_import_check_task(import_id: int) -> None:
    try:
        services.client_file_import_check(import_id=import_id)
    except Exception:
        logger.exception("Checking client file import %s failed", import_id)
        services.client_file_import_fail(import_id=import_id)
        raise
