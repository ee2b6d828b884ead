"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.crypto.models import DataKey
from app.reporters.models import Reporter, ReporterSession
from app.reports.models import Attachment, Report, ReportEvent, TrackingCounter
from app.units.models import Unit

__all__ = ["Attachment", "DataKey", "Report", "ReportEvent", "Reporter", "ReporterSession", "TrackingCounter", "Unit"]
