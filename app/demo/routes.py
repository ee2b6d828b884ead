"""``/training/``: the trainer's pages of a training deployment (CONTRACT.md "Training"; registered only with
``QZBG_TRAINING=1``).

The page resets the training data (``reset.py``: a job on a thread, whose progress page refreshes itself, or is
updated by ``progress.js``, until it is done) and links to the printable sheet of the trainees' accounts
(``sheet.py``). Both the reset and the sheet need a recent second factor, like the other actions that reach every
account (the sheet shows every account's second factor; the reset ends everyone's session and replaces all the
data), and both are audited: the reset by its job, the sheet when it is shown.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from app.audit import service as audit
from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.demo import reset, sheet
from app.errors import NotFoundError
from app.extensions import db
from app.reports.models import Report

bp = Blueprint("demo", __name__, url_prefix="/training")


def _status_of(job_id: str) -> reset.ResetStatus:
    current = reset.status(current_app.config["QZBG"])
    if current is None or current.id != job_id:
        raise NotFoundError("找不到这次重置：只能查看最近一次重置的进度")
    return current


@bp.get("/")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("training")
def training_home() -> ResponseReturnValue:
    """The trainer's page: the reset form, the last reset, the link to the accounts sheet."""
    counts = dict(db.session.execute(select(Report.training, func.count()).group_by(Report.training)).all())
    return render_template("training/home.html", last=reset.status(current_app.config["QZBG"]),
                           reports=counts.get(False, 0), practice=counts.get(True, 0))


@bp.post("/reset")
@transactional
@staff_required("training.reset", held_label="重置培训数据")
def start_reset() -> ResponseReturnValue:
    """Start a reset (its own job) and go to its progress page; one already running: to that one's."""
    try:
        job_id = reset.start(current_app._get_current_object(),  # type: ignore[attr-defined]
                             settings=current_app.config["QZBG"], vault=get_vault(), actor=current_actor())
    except reset.ResetRunning:
        running = reset.status(current_app.config["QZBG"])
        flash("已有一次重置正在进行，请等待它完成", "done")
        if running is None:
            return redirect(url_for("demo.training_home"), code=303)
        job_id = running.id
    return redirect(url_for("demo.reset_progress", job_id=job_id), code=303)


@bp.get("/reset/<job_id>")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("training")
def reset_progress(job_id: str) -> ResponseReturnValue:
    """The job's progress bar; while it runs the page refreshes itself (``progress.js`` updates it in place)."""
    return render_template("training/progress.html", job=_status_of(job_id))


@bp.get("/reset/<job_id>/status")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("training")
def reset_status(job_id: str) -> ResponseReturnValue:
    """The job's progress for ``progress.js``: state, percent and what it is doing."""
    current = _status_of(job_id)
    return jsonify({"state": current.state, "percent": current.percent, "label": current.label})


@bp.get("/accounts")
@transactional(writes=True)  # audited
@staff_required("training.accounts")
def accounts_sheet() -> ResponseReturnValue:
    """The printable sheet of the trainees' accounts, each with the QR code of its second factor."""
    trainees, trainers = sheet.cards(current_app.config["QZBG"].secret_key)
    audit.record(current_actor(), "training.accounts_sheet", now=dt.datetime.now(dt.UTC), target_type="training_data")
    return render_template("training/accounts.html", trainees=trainees, trainers=trainers)

