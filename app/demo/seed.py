"""Synthetic data for a training or demo deployment (``flask demo seed|reset``; ``make demo``).

Everything goes through the project's own services, so the demo database looks exactly like a real one: units
through ``units.service.import_rows``, police units through ``offices.service.import_police_units``, staff accounts
through ``auth.service.create_user`` (passwords hashed, TOTP secrets sealed), reports through
``reports.service.submit`` (sealed, blind-indexed, tracking numbers) and every later step through
``review.service`` (the one state machine, timeline events, transfers, questions, referrals, audit entries).
The steps of all reports are played in the order of their times, so the audit chain reads like 18 months of work.

Names, phone numbers and addresses come from faker's ``zh_CN`` provider: invented, never a real person's.
Nothing runs unless ``QZBG_TRAINING=1`` (``refuse_unless_training``): a demo never touches a real database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy import Table, delete, func, select

from app.auth import service as auth
from app.auth.models import StaffUser
from app.clients.tokens import WeChatAccessToken
from app.config import Settings
from app.core import imports
from app.core.actor import Actor
from app.core.idcard import check_digit
from app.core.scheduler import JobRun
from app.crypto.vault import Vault
from app.demo.accounts import STAFF, DemoAccount, totp_secret
from app.extensions import db
from app.notify import service as notify
from app.notify.models import WorkerHeartbeat
from app.offices import queries as offices
from app.offices import service as offices_service
from app.offices.models import Office, OfficeDistrict, PoliceUnit
from app.reporters import service as reporters
from app.reporters.models import Reporter
from app.reports import answers
from app.reports import service as reports
from app.reports.constants import CATEGORIES
from app.reports.models import Attachment, Report, TrackingCounter
from app.reports.schemas import ReportBody
from app.review import service as review
from app.units import service as units_service
from app.units.models import UNIT_TYPES, Unit

CST = dt.timezone(dt.timedelta(hours=8))
Progress = Callable[[int, int], None]  # (steps done, steps in all)
REPORTS = 300
MONTHS = 18
TRAINING_REPORTS = 6


class NotTraining(RuntimeError):
    """The demo was asked to run on a deployment that is not a training one."""


REFUSAL = (
    "refusing to run: flask demo seed|reset writes synthetic data and empties tables, so it runs only on a "
    "training deployment (set QZBG_TRAINING=1 with a database of its own); a demo must never touch a real database"
)


def refuse_unless_training(settings: Settings) -> None:
    if not settings.training:
        raise NotTraining(REFUSAL)


@dataclasses.dataclass
class Seeded:
    accounts: list[DemoAccount]
    units: int = 0
    police_units: int = 0
    reports: int = 0
    by_status: dict[str, int] = dataclasses.field(default_factory=dict)


# --- the cast --------------------------------------------------------------------------------------------------------

DISTRICTS = {"430181": "城关区", "430182": "东湖区", "430183": "西山县", "430184": "南岭镇", "430185": "北塘镇"}
POLICE_UNITS = (
    ("demo-pcs-cg", "城关派出所", "430181"), ("demo-pcs-dh", "东湖派出所", "430182"),
    ("demo-pcs-xs", "西山派出所", "430183"), ("demo-xjdd", "刑事侦查大队", None),
)
UNIT_NAMES = {
    "residents_committee": "{place}社区居民委员会", "school": "{place}第{n}中学", "kindergarten": "{place}阳光幼儿园",
    "training_institution": "{place}启明教育培训中心", "youth_venue": "{place}青少年宫",
    "school_bus": "{place}平安校车服务有限公司", "childcare": "{place}小太阳托育中心", "hospital": "{place}人民医院",
    "maternal_child_health": "{place}妇幼保健院", "emergency_center": "{place}急救中心", "clinic": "{place}康宁诊所",
    "child_welfare": "{place}儿童福利院", "rescue_station": "{place}救助管理站",
    "minor_protection_center": "{place}未成年人救助保护中心", "social_work": "{place}同心社会工作服务中心",
    "hotel": "{place}悦来宾馆", "state_organ": "{place}街道办事处", "other": "{place}物业服务中心",
}
# How often each type reports (hospitals and schools most).
TYPE_WEIGHTS = {"hospital": 8, "school": 7, "maternal_child_health": 5, "kindergarten": 4, "residents_committee": 4,
                "clinic": 3, "emergency_center": 3, "hotel": 2, "social_work": 2}
POSITIONS = {"hospital": "急诊科医生", "maternal_child_health": "妇产科护士", "school": "班主任",
             "kindergarten": "幼儿教师", "residents_committee": "社区网格员", "hotel": "前台服务员",
             "clinic": "坐诊医生", "emergency_center": "急救医生"}
DESCRIPTIONS = {
    "genital_injury": "接诊时发现未成年人隐私部位有不明原因的损伤，家属说法含糊，未能说明受伤经过。",
    "sexual_assault_under_14": "就诊时发现该女童已怀孕，其年龄不满十四周岁，监护人称不清楚相关情况。",
    "sexual_assault_pregnancy_14_plus": "该女生因腹痛就诊，检查发现已怀孕，本人不愿透露对方身份，神情紧张。",
    "abuse_injury": "发现孩子身上有多处新旧不一的淤青和抓痕，孩子称是被家人打的，家长解释前后矛盾。",
    "abnormal_injury_or_death": "未成年人因误服农药送医抢救，据了解家中长期无人看管，存在可疑情况。",
    "abandonment": "孩子独自在家已有多日，邻居反映父母外出务工长期未归，孩子无人照料，营养状况差。",
    "missing_or_trafficked": "入住登记时发现一名成年男子携带的未成年人与其关系不明，孩子无法说出父母姓名。",
    "organised_begging": "在车站附近发现多名未成年人被成年人组织乞讨，孩子衣着单薄，神情畏缩。",
    "other_serious_harm": "学生反映长期遭受校外人员威胁勒索，近期被拦截殴打，目前仍面临不法侵害危险。",
}
QUESTIONS = ("请补充孩子就读的学校和班级。", "请提供监护人的联系方式。", "请说明发现时孩子的精神状况。")
ANSWERS = ("孩子在城关第二小学三年级就读。", "监护人电话已无法接通，可联系其祖母。", "孩子当时情绪低落，不愿多说。")
NOTES = ("已电话联系报告人核实基本情况。", "需尽快移送，同时关注孩子安置情况。", "与学校沟通，安排心理疏导。")
RETURN_REASONS = ("经核实，案发地不属于本所辖区，请移送东湖派出所。",)


# --- emptying a demo database ----------------------------------------------------------------------------------------


# Tables a reset leaves alone: the offices (the default one is the migrations' own), the tracking counters
# (numbers go on from where they were, never reused; on PostgreSQL the counter is also advanced outside this
# transaction, reports/tracking.py, which a lock taken here would block), and the processes' running state (the
# notify workers' heartbeats, the scheduled jobs' runs and leases, WeChat's access tokens), none of it demo data.
KEPT_TABLES = frozenset({Office.__tablename__, TrackingCounter.__tablename__, WorkerHeartbeat.__tablename__,
                         JobRun.__tablename__, WeChatAccessToken.__tablename__})


def data_tables() -> list[Table]:
    """The tables a reset empties and refills, parents before children."""
    return [table for table in db.metadata.sorted_tables if table.name not in KEPT_TABLES]


def empty_database(settings: Settings) -> list[Path]:
    """Every row of the demo data gone (``data_tables``), in the caller's transaction. Returns the attachment blobs
    the rows pointed to, for the caller to remove once the transaction commits."""
    refuse_unless_training(settings)
    directory = settings.attachments_dir
    blobs = [directory / name for name in db.session.scalars(select(Attachment.storage_name))]
    for table in reversed(data_tables()):
        db.session.execute(table.delete())
    db.session.execute(delete(Office).where(Office.is_default.is_(False)))
    db.session.expunge_all()
    return blobs


def is_empty() -> bool:
    return not (db.session.scalar(select(func.count()).select_from(Report))
                or db.session.scalar(select(func.count()).select_from(StaffUser)))


# --- seeding ---------------------------------------------------------------------------------------------------------


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


class _Seeder:
    def __init__(self, *, now: dt.datetime, seed: int, reports_count: int, settings: Settings, vault: Vault) -> None:
        self.now = now
        self.vault = vault
        self.secret_key = settings.secret_key
        self.ack_deadlines = reports.AckDeadlines.from_settings(settings)
        self.outbound = notify.Outbound.of(settings)
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by its seed
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.reports_count = reports_count
        self.office = offices.default_office()
        self.deadlines = review.deadlines_from(settings)
        self.result = Seeded(accounts=[])
        self.counter = itertools.count()

    # -- the registry and the accounts --
    def registry(self) -> None:
        for code, name in DISTRICTS.items():
            if db.session.get(OfficeDistrict, code) is None:
                db.session.add(OfficeDistrict(code=code, name=name, office_id=self.office.id))
        rows = []
        for kind in UNIT_TYPES:
            for n in range(1, 1 + (3 if kind in TYPE_WEIGHTS else 1)):
                district = self.rng.choice(list(DISTRICTS))
                place = DISTRICTS[district]
                rows.append({"code": f"demo-{kind.replace('_', '-')}-{n}", "type": kind, "district_code": district,
                             "name": UNIT_NAMES[kind].format(place=place, n="一二三"[n - 1])})
        units_service.import_rows([imports.Row(n, row) for n, row in enumerate(rows, start=2)],
                                  office_id=self.office.id, actor=Actor.system(), now=self.now, vault=self.vault)
        offices_service.import_police_units(
            [{"code": c, "name": n, "district_code": d, "active": True} for c, n, d in POLICE_UNITS],
            default_office_id=self.office.id,
        )
        db.session.flush()
        self.units = list(db.session.scalars(select(Unit).where(Unit.code.like("demo-%")).order_by(Unit.id)))
        self.police_units = list(db.session.scalars(
            select(PoliceUnit).where(PoliceUnit.code.like("demo-%")).order_by(PoliceUnit.id)))
        self.result.units, self.result.police_units = len(self.units), len(self.police_units)

    def accounts(self) -> None:
        police_units = iter(self.police_units)
        liaison_unit = next(u for u in self.units if u.type == "hospital")
        self.staff: dict[str, Actor] = {}
        for username, role, name, password in STAFF:
            user = auth.create_user(auth.NewUser(
                username=username, role=role, office=self.office, display_name=name,
                police_unit=next(police_units) if role == "police" else None,
                unit=liaison_unit if role == "unit_liaison" else None,
                # Contact fields, so the sandbox shows each message on the channel it would have gone out on.
                wecom_userid=f"demo-{username}", email=f"{username}@demo.invalid",
            ), password, actor=None, now=self.now, vault=self.vault, training=True)
            secret = None
            if user.needs_totp:  # enrolled already, with the secret every reseed gives it (demo/accounts.py)
                secret = totp_secret(self.secret_key, username)
                user.seal("totp_secret_data", secret)
                user.totp_enrolled_at = self.now
            self.staff[username] = Actor.staff(user)
            self.result.accounts.append(DemoAccount(username, password, secret, role))
        self.police_by_unit = {a.police_unit_id: a for a in self.staff.values() if a.role == "police"}
        self.liaison_unit = liaison_unit
        db.session.flush()
        self.reporters = [reporters.find_or_create_by_openid(f"o-demo-{n:03d}", now=self.now, vault=self.vault)
                          for n in range(40)]

    # -- one report's body --
    def body(self, unit: Unit | None, at: dt.datetime, categories: list[str], urgent: bool,
             training: bool = False) -> dict[str, Any]:
        fake, rng = self.fake, self.rng
        discovered = at - dt.timedelta(minutes=rng.randint(10, 60 * 48))
        age = rng.choice([rng.randint(0, 17), rng.randint(6, 15)])
        gender = "female" if {"sexual_assault_under_14", "sexual_assault_pregnancy_14_plus"} & set(categories) \
            else rng.choice(["female", "male", "male", "female", "unknown"])
        if "sexual_assault_pregnancy_14_plus" in categories:
            age = rng.randint(14, 17)
        elif "sexual_assault_under_14" in categories:
            age = rng.randint(10, 13)
        id_number = self.id_number(discovered, age) if rng.random() < 0.4 else None
        police = rng.random() < 0.45
        return {
            "categories": categories, "urgent": urgent, "training": training,
            "unit_id": unit.id if unit else None,
            "district_code": None if unit else rng.choice(list(DISTRICTS)),
            "reporter": {"name": fake.name(), "phone": fake.phone_number(),
                         "position": POSITIONS.get(unit.type, "工作人员") if unit
                         else rng.choice(["邻居", "家长", None])},
            "victim": {"name": fake.name(), "gender": gender, "age": age, "id_number": id_number,
                       "address": fake.address()[:200], "guardian_name": fake.name() if rng.random() < 0.5 else None,
                       "guardian_phone": fake.phone_number() if rng.random() < 0.4 else None,
                       "has_disability": rng.random() < 0.08},
            "incident": {"discovered_at": discovered.isoformat(),
                         "occurred_at": (discovered - dt.timedelta(days=rng.randint(0, 20))).isoformat()
                         if rng.random() < 0.5 else None,
                         "location": (unit.name if unit else fake.street_address())[:200],
                         "description": "".join(DESCRIPTIONS[c] for c in categories)[:5000]},
            "suspect": {"name": fake.name() if rng.random() < 0.3 else None,
                        "relation": rng.choice(["父亲", "母亲", "继父", "邻居", "同学", "陌生人", None]),
                        "description": None},
            "police": {"notified": police, "station": rng.choice([p[1] for p in POLICE_UNITS]) if police else None,
                       "notified_at": discovered.isoformat() if police else None},
        }

    def id_number(self, discovered: dt.datetime, age: int) -> str:
        """A valid 18-character ID number of someone exactly ``age`` on the day of discovery (China time)."""
        day = discovered.astimezone(CST).date()
        latest = _years_before(day, age)
        earliest = _years_before(day, age + 1) + dt.timedelta(days=1)
        born = earliest + dt.timedelta(days=self.rng.randint(0, (latest - earliest).days))
        first17 = f"{self.rng.choice(list(DISTRICTS))}{born:%Y%m%d}{self.rng.randint(100, 999)}"
        return first17 + check_digit(first17)

    # -- the plan: every report's steps, played in time order --
    def plan(self) -> list[tuple[dt.datetime, int, Callable[[], None]]]:
        steps: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        start = self.now - dt.timedelta(days=int(MONTHS * 30.4))
        weights = [TYPE_WEIGHTS.get(u.type, 1) for u in self.units]
        # Every status for sure (the first six), then a mix in which older reports are mostly closed.
        forced = ["new", "reviewing", "transferred", "police_responded", "supervising", "closed", "new", "transferred"]
        for index in range(self.reports_count):
            if index < len(forced):
                at = self.now - dt.timedelta(days=self.rng.uniform(4, 20))
                status = forced[index]
            else:
                at = start + dt.timedelta(seconds=self.rng.uniform(0, (self.now - start).total_seconds()))
                status = self.pick_status(self.now - at)
            unit: Unit | None
            if index < len(UNIT_TYPES):  # a report from a unit of every type, for sure
                unit = next(u for u in self.units if u.type == list(UNIT_TYPES)[index])
            else:
                unit = self.rng.choices(self.units, weights)[0] if self.rng.random() < 0.8 else None
            categories = self.rng.sample(list(CATEGORIES), 1 if self.rng.random() < 0.8 else 2)
            urgent = self.rng.random() < 0.12
            steps.extend(self.report_steps(at, unit, categories, urgent, status))
        for n in range(TRAINING_REPORTS):
            at = self.now - dt.timedelta(hours=self.rng.uniform(2, 24 * 6))
            categories = [self.rng.choice(list(CATEGORIES))]
            status = ("new", "reviewing", "transferred")[n % 3]
            steps.extend(self.report_steps(at, self.liaison_unit, categories, False, status, training=True))
        return steps

    def pick_status(self, age: dt.timedelta) -> str:
        days = age.total_seconds() / 86400
        if days < 1:
            return self.rng.choice(["new", "new", "reviewing"])
        if days < 7:
            return self.rng.choices(["new", "reviewing", "transferred", "police_responded", "closed"],
                                    [1, 3, 4, 2, 1])[0]
        if days < 60:
            return self.rng.choices(["reviewing", "transferred", "police_responded", "supervising", "closed"],
                                    [1, 2, 3, 2, 6])[0]
        return self.rng.choices(["police_responded", "supervising", "closed", "new", "transferred"],
                                [1, 1, 30, 0.3, 0.5])[0]

    def report_steps(self, at: dt.datetime, unit: Unit | None, categories: list[str], urgent: bool, status: str,
                     *, training: bool = False) -> list[tuple[dt.datetime, int, Callable[[], None]]]:
        rng = self.rng
        holder: dict[str, Report] = {}
        prosecutor = self.staff[rng.choice(["demo.prosecutor", "demo.prosecutor2", "demo.lead"])]
        police_unit = rng.choice(self.police_units)
        police = self.police_by_unit[police_unit.id]
        channel = rng.choices(["miniprogram", "web", "phone"], [6, 3, 1])[0]
        reporter = rng.choice(self.reporters) if channel == "miniprogram" else None
        data = ReportBody().load(self.body(unit, at, categories, urgent, training))
        out: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        room = max(self.now - at - dt.timedelta(minutes=5), dt.timedelta(minutes=1))
        clock = [at]

        def after(hours: float) -> dt.datetime:
            """A moment ``hours`` (±30%) after the last step, never past now."""
            step = dt.timedelta(hours=hours * rng.uniform(0.7, 1.3))
            clock[0] = min(clock[0] + step, at + room * (0.5 + len(out) / 40))
            clock[0] = min(clock[0], self.now - dt.timedelta(minutes=1))
            return clock[0]

        def add(moment: dt.datetime, fn: Callable[[Report, dt.datetime], Any]) -> None:
            out.append((moment, next(self.counter), lambda: fn(holder["report"], moment)))

        def submit(_: Any, moment: dt.datetime) -> None:
            actor = (Actor.reporter(reporter.id) if reporter else
                     dataclasses.replace(prosecutor, channel="phone") if channel == "phone" else Actor.public())
            result = reports.submit(data, actor=actor, client_key=f"demo:{uuid.uuid4()}", now=moment,
                                    vault=self.vault, ack_deadlines=self.ack_deadlines, reporter=reporter)
            holder["report"] = result.report

        out.append((at, next(self.counter), lambda: submit(None, at)))
        if status == "new":
            return out
        ack_hours = rng.choice([0.3, 2, 6, 20]) if not urgent else 0.3
        add(after(ack_hours), lambda r, t: review.acknowledge(r, actor=prosecutor, version=r.version, now=t))
        if rng.random() < 0.3:
            add(after(1), lambda r, t: review.set_risk(r, rng.choice(list(review.RISKS)), actor=prosecutor,
                                                        version=r.version, now=t))
        if rng.random() < 0.4:
            add(after(0.5), lambda r, t: review.add_note(r, rng.choice(NOTES), actor=prosecutor, version=r.version,
                                                          now=t))
        if rng.random() < 0.25:
            self.question(add, after, prosecutor, reporter, channel)
        if rng.random() < 0.15:
            add(after(4), lambda r, t: review.refer(r, rng.choice(list(review.AGENCIES)), "请协助做好临时安置。",
                                                     actor=prosecutor, version=r.version, now=t))
        if status == "reviewing":
            return out
        if status == "closed" and rng.random() < 0.3:
            reason = rng.choice(["no_transfer_needed", "insufficient", "other"])
            add(after(24), lambda r, t: review.close(r, reason, merge_into=None, note=None, actor=prosecutor,
                                                      version=r.version, now=t))
            return out
        if rng.random() < 0.06:  # sent to the wrong police unit first: returned, then sent on
            wrong = rng.choice([u for u in self.police_units if u.id != police_unit.id])
            returned_by = self.police_by_unit[wrong.id]
            add(after(3), lambda r, t: self.transfer(r, t, prosecutor, wrong.code))
            add(after(10), lambda r, t: review.police_return(r, RETURN_REASONS[0], actor=returned_by,
                                                              version=r.version, now=t, outbound=self.outbound))
        add(after(3), lambda r, t: self.transfer(r, t, prosecutor, police_unit.code))
        if status == "transferred":
            if rng.random() < 0.6:
                add(after(8), lambda r, t: review.police_acknowledge(r, actor=police, version=r.version, now=t))
            return out
        add(after(8), lambda r, t: review.police_acknowledge(r, actor=police, version=r.version, now=t))
        supervised = status == "supervising" or (status == "closed" and rng.random() < 0.15)
        outcome = "not_filed" if supervised else rng.choices(
            ["accepted", "filed", "not_filed", "referred", "other"], [4, 5, 1, 1, 0.5])[0]
        feedback_hours = rng.choice([20, 48, 70, 120])
        add(after(feedback_hours), lambda r, t: review.record_feedback(
            r, outcome=outcome,
            case_no=f"A{t:%Y}{rng.randint(1000, 9999)}" if outcome in ("accepted", "filed") else None,
            decided_at=t.astimezone(CST).date(), note="已开展调查。", actor=police, version=r.version, now=t,
            outbound=self.outbound))
        if supervised:
            add(after(24), lambda r, t: review.supervise(r, "请说明不立案的理由。", actor=prosecutor, version=r.version,
                                                          now=t, deadlines=self.deadlines))
            if status == "closed" or rng.random() < 0.5:
                add(after(72), lambda r, t: review.police_explain(r, "经调查，现有证据不足以认定犯罪事实。",
                                                                   actor=police, version=r.version, now=t,
                                                                   outbound=self.outbound))
            if status == "closed":
                result = rng.choice(["notify_filing", "accept_reasons"])
                add(after(24), lambda r, t: review.conclude_supervision(r, result, None, actor=prosecutor,
                                                                         version=r.version, now=t))
                if result == "notify_filing":
                    add(after(48), lambda r, t: review.record_feedback(
                        r, outcome="filed", case_no=f"A{t:%Y}{rng.randint(1000, 9999)}", decided_at=None, note=None,
                        actor=police, version=r.version, now=t, outbound=self.outbound))
        if status == "closed":
            add(after(24 * 10), lambda r, t: review.close(r, "after_transfer", merge_into=None, note=None,
                                                           actor=prosecutor, version=r.version, now=t))
            if rng.random() < 0.03:
                add(after(24 * 5), lambda r, t: review.reopen(r, "报告人补充了新情况。", actor=prosecutor,
                                                               version=r.version, now=t))
                add(after(24 * 2), lambda r, t: review.close(r, "after_transfer", merge_into=None, note=None,
                                                              actor=prosecutor, version=r.version, now=t))
        return out

    def question(self, add: Any, after: Any, prosecutor: Actor, reporter: Reporter | None, channel: str) -> None:
        asked_holder: dict[str, Any] = {}
        pick = self.rng.randrange(len(QUESTIONS))

        def ask(r: Report, t: dt.datetime) -> None:
            asked_holder["q"] = review.ask_reporter(r, QUESTIONS[pick], actor=prosecutor, version=r.version, now=t)

        add(after(2), ask)
        if channel != "phone" and self.rng.random() < 0.7:
            who = Actor.reporter(reporter.id) if reporter else Actor.public()
            add(after(12), lambda r, t: answers.record_answer(r, asked_holder["q"].id, ANSWERS[pick], actor=who, now=t))

    def transfer(self, report: Report, at: dt.datetime, prosecutor: Actor, police_unit: str) -> None:
        number = f"示检未移〔{at.astimezone(CST):%Y}〕{self.rng.randint(1, 999)}号"
        review.transfer(report, police_unit=police_unit, document_no=number, contact="联络人（演示）",
                        share_reporter=self.rng.random() < 0.2, note="案情概要见附件。", actor=prosecutor,
                        version=report.version, now=at, deadlines=self.deadlines, outbound=self.outbound)

    def play(self, steps: list[tuple[dt.datetime, int, Callable[[], None]]], progress: Progress) -> None:
        total = len(steps)
        heapq.heapify(steps)
        while steps:
            _, _, step = heapq.heappop(steps)
            step()
            progress(total - len(steps), total)


def _no_progress(done: int, total: int) -> None:
    return None


def seed(*, settings: Settings, vault: Vault, now: dt.datetime, seed: int = 2026, reports_count: int = REPORTS,
         progress: Progress = _no_progress) -> Seeded:
    """Fill an empty training database, in the caller's transaction; returns the demo accounts and counts.
    ``progress(done, total)`` hears of each step played (a reset's progress bar)."""
    refuse_unless_training(settings)
    if not is_empty():
        raise NotTraining("the database already holds reports or staff accounts: run flask demo reset instead")
    seeder = _Seeder(now=now, seed=seed, reports_count=reports_count, settings=settings, vault=vault)
    seeder.registry()
    seeder.accounts()
    seeder.play(seeder.plan(), progress)
    db.session.flush()
    seeder.result.reports = int(db.session.scalar(
        select(func.count()).select_from(Report).where(Report.training.is_(False))) or 0)
    seeder.result.by_status = dict(db.session.execute(  # type: ignore[arg-type]
        select(Report.status, func.count()).where(Report.training.is_(False)).group_by(Report.status)).all())
    return seeder.result
