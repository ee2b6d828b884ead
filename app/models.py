"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.audit.models import AuditEntry, AuditHead
from app.auth.models import RecoveryCode, StaffSession, StaffUser
from app.crypto.models import DataKey
from app.notify.models import DutyShift, NotifyStep, OutboxMessage, SandboxMessage
from app.offices.models import Office, OfficeDistrict, PoliceUnit
from app.reporters.models import Reporter, ReporterSession
from app.reporters.subscriptions import SubscriptionGrant
from app.reports.models import Attachment, Report, ReportCategory, ReportEvent, TrackingCounter
from app.review.models import Question, Referral, Transfer
from app.units.models import Unit, UnitQrCode
from app.wechat.tokens import WeChatAccessToken

__all__ = [
    "Attachment", "AuditEntry", "AuditHead", "DataKey", "Office", "OfficeDistrict", "OutboxMessage", "PoliceUnit",
    "RecoveryCode", "Report", "ReportCategory", "ReportEvent", "Reporter", "ReporterSession", "StaffSession",
    "StaffUser",
    "SubscriptionGrant", "TrackingCounter", "Unit", "UnitQrCode", "WeChatAccessToken", "Question", "Referral",
    "Transfer", "DutyShift", "NotifyStep", "SandboxMessage",
]
