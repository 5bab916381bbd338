"""Imports every domain's models so the metadata is complete (Alembic, tests)."""

from previewgate.accounts.models import AdminSessionRecord, ApiKey, PreviewOptIn, User
from previewgate.catalog.models import CatalogModel, ModelDisclosure
from previewgate.evidence.models import ExperimentRequest
from previewgate.experiments.models import Experiment, Variant, VariantVersion
from previewgate.feedback.models import Feedback
from previewgate.partners.models import (
    ExportCursor,
    ExportDay,
    ExportFile,
    Partner,
    PartnerMembership,
)
from previewgate.routing.models import RoutingGeneration
from previewgate.store.base import Base
from previewgate.usage.models import Usage
from previewgate.webhooks.models import (
    OperatorNotice,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)

__all__ = [
    "AdminSessionRecord",
    "ApiKey",
    "Base",
    "CatalogModel",
    "Experiment",
    "ExperimentRequest",
    "ExportCursor",
    "ExportDay",
    "ExportFile",
    "Feedback",
    "ModelDisclosure",
    "OperatorNotice",
    "Partner",
    "PartnerMembership",
    "PreviewOptIn",
    "RoutingGeneration",
    "Usage",
    "User",
    "Variant",
    "VariantVersion",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookMessage",
]
