"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.audit.models import AuditEntry, AuditHead
from app.auth.models import RecoveryCode, StaffSession, StaffUser
from app.cases.models import FiledCase, FiledCaseUnit, Recommendation
from app.clients.tokens import WeChatAccessToken
from app.core.scheduler import JobRun
from app.crypto.models import DataKey
from app.exports.models import Export
from app.institutions.models import Institution, InstitutionKey, InstitutionNonce
from app.notify.models import DutyShift, NotifyStep, OutboxMessage, SandboxMessage, WorkerHeartbeat
from app.offices.models import Office, OfficeDistrict, PoliceUnit
from app.reporters.models import Reporter, ReporterSession
from app.reporters.subscriptions import SubscriptionGrant
from app.reports.models import Attachment, Report, ReportCategory, ReportEvent, TrackingCounter
from app.reports.records import Question, Referral, Transfer
from app.units.models import Unit, UnitLiaison, UnitQrCode

__all__ = [
    "Attachment", "AuditEntry", "AuditHead", "DataKey", "JobRun", "Office", "OfficeDistrict", "OutboxMessage",
    "PoliceUnit",
    "RecoveryCode", "Report", "ReportCategory", "ReportEvent", "Reporter", "ReporterSession", "StaffSession",
    "StaffUser",
    "SubscriptionGrant", "TrackingCounter", "Unit", "UnitLiaison", "UnitQrCode", "WeChatAccessToken",
    "WorkerHeartbeat", "Question", "Referral",
    "Transfer", "DutyShift", "NotifyStep", "SandboxMessage", "Institution", "InstitutionKey", "InstitutionNonce",
    "FiledCase", "FiledCaseUnit", "Recommendation", "Export",
]
