"""The data model (DESIGN.md section 3); import models from here."""

from .audit import AuditEvent
from .dossiers import (
    Conversation,
    ConversationStatus,
    Dossier,
    Invitation,
    InvitationStatus,
    OptOut,
    PhoneStatus,
    SmsMessage,
    SmsMode,
)
from .kiosks import Kiosk, KioskStatus
from .offices import Counter, Office, OfficeKind, RankingGroup, Service, office_services
from .officials import ApiToken, Role, User
from .responses import CHANNELS, Answer, Channel, Integrity, Response, ResponseKey
from .rollups import (
    ReportText,
    RollupAnswer,
    RollupDay,
    RollupDossier,
    RollupMoment,
    RollupPattern,
    RollupResponse,
)
from .surveys import (
    KIND_VALUES,
    SIPAS_ELEMENTS,
    Dimension,
    Question,
    QuestionKind,
    Questionnaire,
)
from .types import UTCDateTime, utcnow

__all__ = [
    "CHANNELS",
    "KIND_VALUES",
    "SIPAS_ELEMENTS",
    "Answer",
    "ApiToken",
    "AuditEvent",
    "Channel",
    "Conversation",
    "ConversationStatus",
    "Counter",
    "Dimension",
    "Dossier",
    "Integrity",
    "Invitation",
    "InvitationStatus",
    "Kiosk",
    "KioskStatus",
    "Office",
    "OfficeKind",
    "OptOut",
    "PhoneStatus",
    "Question",
    "QuestionKind",
    "Questionnaire",
    "RankingGroup",
    "Response",
    "ResponseKey",
    "ReportText",
    "Role",
    "RollupAnswer",
    "RollupDay",
    "RollupDossier",
    "RollupMoment",
    "RollupPattern",
    "RollupResponse",
    "Service",
    "SmsMessage",
    "SmsMode",
    "User",
    "UTCDateTime",
    "office_services",
    "utcnow",
]
