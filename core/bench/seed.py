"""A large, realistic clinic written with COPY, for the benchmark.

Everything is generated in Python first (deterministic for a given seed), then
written table by table with PostgreSQL's COPY inside one transaction. The data
respects what the database enforces, triggers included: participant and
facilitator rows get their times from the session trigger, groups stay within
capacity, and nobody (room, facilitator, patient) is booked twice at one time:

- group tracks meet at fixed hours that never overlap each other
  (Morning Mon/Wed/Fri 9-12, Afternoon Tue/Thu/Fri 13-16, Evening Mon/Tue/Thu
  18-21); each group has its own room (or telehealth) and facilitators of its own
  within the track;
- individual and family sessions use one-hour slots outside group hours
  (8:00, 12:00, 16:00, 17:00, Monday to Friday), at most one per counselor per
  slot, in the counselor's own office or by telehealth; a patient has at most one
  such session a week.
"""

import datetime
import heapq
import json
import random
import time
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today, make_local, week_start
from patients.models import (
    AdmissionRequest,
    Consent,
    Disclosure,
    DoctorDecision,
    Patient,
    PatientStatusChange,
    Sponsor,
    Track,
)
from sessions.models import (
    Alert,
    Attendance,
    AttendanceRevision,
    FamilyMember,
    Participant,
    Room,
    SessionFacilitator,
    SessionSeries,
    TherapySession,
    Topic,
)

DOMAIN = "large.bench"
PASSWORD = "bench-pass-2026"
CLINIC = "Harbor Light Recovery Center"
SITES = ["Bayside", "Northgate", "Riverside", "Lakeview", "Hillcrest"]
TRACKS = [
    # name, description, weekdays, start hour
    ("Morning IOP", "Mon, Wed, Fri 9:00-12:00", (0, 2, 4), 9),
    ("Afternoon IOP", "Tue, Thu, Fri 13:00-16:00", (1, 3, 4), 13),
    ("Evening IOP", "Mon, Tue, Thu 18:00-21:00", (0, 1, 3), 18),
]
TOPICS = [
    "Coping with cravings",
    "Relapse prevention",
    "Managing withdrawal",
    "Coping skills",
    "Family dynamics",
    "Mindfulness and stress",
    "Building a sober network",
    "Shame and self-compassion",
    "Anger and emotions",
    "Sleep and recovery",
]
SLOT_HOURS = (8, 12, 16, 17)  # one-hour individual/family slots, Mon-Fri
GROUP_SEATS = 10  # patients per group seat plan (sessions hold 12)
FIRST = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph",
    "Jessica", "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew",
    "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Luis", "Ashley", "Steven",
    "Kimberly", "Andrew", "Emily", "Kenji", "Donna", "Joshua", "Michelle", "Amir",
    "Carol", "Kevin", "Amanda", "Brian", "Dorothy", "George", "Melissa", "Aisha",
    "Deborah", "Ivan", "Stephanie", "Ryan", "Rebecca", "Jacob", "Sharon", "Omar",
    "Laura", "Wei", "Cynthia", "Diego", "Amy",
]  # fmt: skip
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill",
    "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Okafor", "Kowalski", "Haddad", "Tanaka",
    "Novak", "Silva", "Murphy", "O'Brien", "Schmidt", "Dubois",
]  # fmt: skip


# ------------------------------------------------------------------ COPY helpers


def _fill_value(f, now):
    """The value a column gets when the generator does not set it."""
    if f.has_default():
        value = f.get_default()
        if isinstance(f, models.JSONField):
            return json.dumps(value)
        return value
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return now
    if f.null:
        return None
    if isinstance(f, models.CharField | models.TextField):
        return ""
    raise ValueError(f"{f.model.__name__}.{f.name} needs a value")


def copy_rows(model, columns, rows):
    """COPY `rows` (tuples in the order of `columns`, given as attnames) into the
    model's table; every other concrete column gets its default. Returns the count."""
    now = timezone.now()
    opts = model._meta
    given = [opts.get_field(c) for c in columns]
    given_names = {f.attname for f in given}
    rest = [
        f
        for f in opts.concrete_fields
        if f.attname not in given_names and not (f.primary_key and f.auto_created)
    ]
    rest_values = tuple(_fill_value(f, now) for f in rest)
    cols = ", ".join(connection.ops.quote_name(f.column) for f in given + rest)
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {opts.db_table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + rest_values)
                count += 1
    return count


def reserve_ids(model, n):
    """Take `n` consecutive ids from the table's identity sequence."""
    if n <= 0:
        return iter(())
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, 'id')",
            [connection.ops.quote_name(table)],
        )
        (seq,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [seq])
        (first,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s, %s)", [seq, first + n - 1])
    return iter(range(first, first + n))


def record_numbers(n):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('patients_record_number_seq') FROM generate_series(1, %s)",
            [n],
        )
        return [f"P-{value:06d}" for (value,) in cursor.fetchall()]


# ------------------------------------------------------------------ the plan


@dataclass
class PatientPlan:
    id: int
    status: str
    track: int | None  # index into TRACKS
    counselor: int | None  # user id
    doctor: int | None
    admitted_on: datetime.date | None
    until: datetime.date | None  # last day in the program (hold / discharge)
    referred_on: datetime.date
    reliability: float  # chance of an unexcused absence
    sponsors: list = field(default_factory=list)  # (sponsor id, consent status)
    long_stay: bool = False
    group: tuple | None = None  # (track index, group index)


@dataclass
class Counts:
    rows: dict = field(default_factory=dict)

    def add(self, name, n):
        self.rows[name] = self.rows.get(name, 0) + n


class LargeClinic:
    def __init__(self, *, patients=2000, weeks=26, seed=2026, stdout=None):
        self.n_patients = patients
        self.weeks = max(1, weeks)
        self.rng = random.Random(seed)
        self.stdout = stdout
        self.counts = Counts()
        self.today = clinic_today()
        self.now = timezone.now()
        self.future_weeks = max(1, round(self.weeks / 6))
        self.past_weeks = self.weeks - self.future_weeks
        self.week0 = week_start(self.today) - datetime.timedelta(weeks=self.past_weeks)
        self.window_end = self.week0 + datetime.timedelta(weeks=self.weeks)

    def log(self, message):
        if self.stdout is not None:
            self.stdout.write(message)

    # ---------------------------------------------------------------- people

    def seed_people(self):
        n = self.n_patients
        self.n_counselors = max(4, n // 25)
        n_front = max(1, n // 400)
        n_doctors = max(2, n // 250)
        n_officers = max(1, n // 100)
        hashed = make_password(PASSWORD)
        people = [("admin", "Bench Administrator", "", roles.ADMIN, True)]
        people += [
            (f"counselor{i}", self._name(), "CADC", roles.STAFF, False)
            for i in range(1, self.n_counselors + 1)
        ]
        people += [
            (f"frontdesk{i}", self._name(), "", roles.STAFF, False)
            for i in range(1, n_front + 1)
        ]
        people += [
            (f"doctor{i}", self._name(), "MD", roles.DOCTOR, False)
            for i in range(1, n_doctors + 1)
        ]
        people += [
            (f"officer{i}", f"Officer {self._name()}", "", roles.SPONSOR, False)
            for i in range(1, n_officers + 1)
        ]
        ids = reserve_ids(User, len(people))
        rows, by_role = [], {}
        for local_part, name, cred, role, is_admin in people:
            uid = next(ids)
            rows.append(
                (
                    uid,
                    f"{local_part}@{DOMAIN}",
                    name,
                    cred,
                    hashed,
                    is_admin,
                    is_admin,
                    True,
                    self.now,
                )
            )
            by_role.setdefault(role, []).append(uid)
            if local_part.startswith("officer"):
                by_role.setdefault("officer", []).append(uid)
            if local_part.startswith("counselor"):
                by_role.setdefault("counselor", []).append(uid)
        cols = [
            "id",
            "email",
            "full_name",
            "credentials",
            "password",
            "is_staff",
            "is_superuser",
            "is_active",
            "date_joined",
        ]
        self.counts.add("users", copy_rows(User, cols, rows))
        self.users = by_role
        self.admin_id = by_role[roles.ADMIN][0]
        self.counselors = by_role["counselor"]
        self.doctors = by_role[roles.DOCTOR]
        self.officers = by_role["officer"]
        self.staff_ids = by_role[roles.STAFF]
        self._add_to_groups(by_role)

    def _add_to_groups(self, by_role):
        through = User.groups.through
        group_ids = dict(Group.objects.values_list("name", "id"))
        rows = [
            (uid, group_ids[role])
            for role in roles.ALL_ROLES
            for uid in by_role.get(role, [])
        ]
        self.counts.add("user groups", copy_rows(through, ["user", "group"], rows))
        self.sponsor_group_id = group_ids[roles.SPONSOR]

    def _name(self):
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    # ---------------------------------------------------------------- program

    def seed_program(self):
        ClinicSettings.load()
        self.tracks = []
        for name, description, *_ in TRACKS:
            track, _ = Track.objects.get_or_create(
                name=name, defaults={"description": description}
            )
            self.tracks.append(track.id)
        self.topics = []
        for name in TOPICS:
            topic, _ = Topic.objects.get_or_create(name=name)
            self.topics.append(topic.id)
        n_sites = min(len(SITES), max(1, self.n_patients // 700 + 1))
        rooms = []
        for site in SITES[:n_sites]:
            rooms += [(f"{site} Group Room {i}", 14, "group") for i in range(1, 9)]
            rooms.append((f"{site} Family Room", 8, "family"))
        rooms += [
            (f"{SITES[i % n_sites]} Office {i + 1}", 3, "office")
            for i in range(len(self.counselors))
        ]
        ids = reserve_ids(Room, len(rooms))
        rows, self.group_rooms, offices = [], [], []
        for name, capacity, kind in rooms:
            rid = next(ids)
            rows.append((rid, f"{name} ({DOMAIN})", capacity, True))
            if kind == "group":
                self.group_rooms.append(rid)
            elif kind == "office":
                offices.append(rid)
        self.counts.add(
            "rooms", copy_rows(Room, ["id", "name", "capacity", "active"], rows)
        )
        self.office_of = dict(zip(self.counselors, offices, strict=True))

    # ---------------------------------------------------------------- patients

    def _status_mix(self):
        n = self.n_patients
        shares = [
            (Patient.Status.ADMITTED, 0.48),
            (Patient.Status.ON_HOLD, 0.04),
            (Patient.Status.DISCHARGED, 0.33),
            (Patient.Status.AWAITING_APPROVAL, 0.05),
        ]
        statuses = []
        for status, share in shares:
            statuses += [status] * int(n * share)
        statuses += [Patient.Status.REFERRED] * (n - len(statuses))
        self.rng.shuffle(statuses)
        return statuses

    def plan_patients(self):
        rng, today = self.rng, self.today
        days = datetime.timedelta
        window_days = (self.today - self.week0).days
        ids = list(reserve_ids(Patient, self.n_patients))
        plans = []
        n_long = max(1, self.n_patients // 500)
        for pid, status in zip(ids, self._status_mix(), strict=True):
            plan = PatientPlan(
                id=pid,
                status=status,
                track=None,
                counselor=rng.choice(self.counselors),
                doctor=rng.choice(self.doctors),
                admitted_on=None,
                until=None,
                referred_on=today - days(rng.randint(0, 40)),
                reliability=0.2 if rng.random() < 0.15 else 0.04,
            )
            if status == Patient.Status.ADMITTED:
                if n_long > 0:
                    n_long -= 1
                    plan.long_stay = True
                    plan.admitted_on = today - days(380)
                    plan.reliability = 0.03
                else:
                    plan.admitted_on = today - days(rng.randint(0, 112))
                plan.until = self.window_end
            elif status == Patient.Status.ON_HOLD:
                plan.admitted_on = today - days(rng.randint(15, 112))
                plan.until = today - days(rng.randint(1, 14))
            elif status == Patient.Status.DISCHARGED:
                plan.admitted_on = today - days(rng.randint(35, window_days + 60))
                stay = days(rng.randint(28, 112))
                plan.until = min(plan.admitted_on + stay, today - days(1))
            if plan.admitted_on is not None:
                plan.track = rng.randrange(len(TRACKS))
                plan.referred_on = plan.admitted_on - days(rng.randint(3, 21))
            elif status == Patient.Status.REFERRED:
                plan.counselor = rng.choice(self.counselors + [None])
            plans.append(plan)
        self.plans = plans

    def write_patients(self):
        rng = self.rng
        numbers = record_numbers(len(self.plans))
        problems = [c for c, _ in Patient.Problem.choices]
        rows, changes = [], []
        reasons = [c for c, _ in Patient.DischargeReason.choices]
        change_ids = reserve_ids(PatientStatusChange, len(self.plans) * 5)
        for plan, number in zip(self.plans, numbers, strict=True):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            dob = datetime.date(
                rng.randint(1950, 2008), rng.randint(1, 12), rng.randint(1, 28)
            )
            referral = rng.choices(
                [c for c, _ in Patient.ReferralSource.choices], [40, 15, 20, 10, 15]
            )[0]
            discharged = plan.status == Patient.Status.DISCHARGED
            on_hold = plan.status == Patient.Status.ON_HOLD
            rows.append(
                (
                    plan.id,
                    number,
                    first,
                    last,
                    dob,
                    f"(555) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                    f"{first}.{last}{plan.id}@mail.{DOMAIN}".lower().replace("'", ""),
                    referral,
                    "Springfield County Court" if referral == "court" else "",
                    rng.sample(problems, rng.choice([1, 1, 2])),
                    rng.random() < 0.12,
                    plan.counselor,
                    plan.doctor,
                    self.tracks[plan.track] if plan.track is not None else None,
                    plan.status,
                    plan.referred_on,
                    plan.admitted_on,
                    plan.until if discharged else None,
                    rng.choices(reasons, [60, 8, 18, 5, 4, 1, 4])[0]
                    if discharged
                    else "",
                )
            )
            plan.court = referral == "court"
            path = [("", Patient.Status.REFERRED, plan.referred_on)]
            if plan.status != Patient.Status.REFERRED:
                path.append(
                    (
                        Patient.Status.REFERRED,
                        Patient.Status.AWAITING_APPROVAL,
                        plan.referred_on + datetime.timedelta(days=1),
                    )
                )
            if plan.admitted_on:
                path.append(
                    (
                        Patient.Status.AWAITING_APPROVAL,
                        Patient.Status.ADMITTED,
                        plan.admitted_on,
                    )
                )
            if on_hold:
                path.append(
                    (Patient.Status.ADMITTED, Patient.Status.ON_HOLD, plan.until)
                )
            if discharged:
                path.append(
                    (Patient.Status.ADMITTED, Patient.Status.DISCHARGED, plan.until)
                )
            for frm, to, day in path:
                changes.append(
                    (
                        next(change_ids),
                        plan.id,
                        frm,
                        to,
                        make_local(day, datetime.time(10)),
                        plan.counselor or self.admin_id,
                        "Bench data",
                    )
                )
        cols = [
            "id",
            "record_number",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "email",
            "referral_source",
            "referral_detail",
            "presenting_problems",
            "medical_probation",
            "primary_counselor",
            "attending_doctor",
            "track",
            "status",
            "referred_on",
            "admitted_on",
            "discharged_on",
            "discharge_reason",
        ]
        self.counts.add("patients", copy_rows(Patient, cols, rows))
        self.counts.add(
            "status changes",
            copy_rows(
                PatientStatusChange,
                ["id", "patient", "from_status", "to_status", "at", "by", "reason"],
                changes,
            ),
        )

    def write_admissions(self):
        rng = self.rng
        requests, decisions = [], []
        req_ids = reserve_ids(AdmissionRequest, len(self.plans) * 2)
        dec_ids = reserve_ids(DoctorDecision, len(self.plans) * 2)
        self.reviews = 0
        for plan in self.plans:
            if plan.status == Patient.Status.REFERRED and rng.random() > 0.2:
                continue
            asked = make_local(
                plan.referred_on + datetime.timedelta(days=1), datetime.time(11)
            )
            rid = next(req_ids)
            pending = plan.status == Patient.Status.AWAITING_APPROVAL
            probation = rng.random() < 0.15
            requests.append(
                (
                    rid,
                    plan.id,
                    plan.counselor or self.staff_ids[0],
                    asked,
                    plan.doctor,
                    "Alcohol use disorder, moderate; stable housing; motivated.",
                    ["alcohol"],
                    self.tracks[plan.track] if plan.track is not None else None,
                    plan.admitted_on or (self.today + datetime.timedelta(days=7)),
                    probation,
                    "Monitoring liver enzymes." if probation else "",
                    "pending" if pending else "decided",
                )
            )
            if pending:
                continue
            signed = asked + datetime.timedelta(hours=rng.randint(2, 48))
            if plan.admitted_on is None:
                decision = (
                    DoctorDecision.Decision.DECLINED,
                    "",
                    None,
                    "Needs a higher level of care.",
                )
            elif probation:
                review = self.today + datetime.timedelta(days=rng.randint(-10, 40))
                decision = (
                    DoctorDecision.Decision.CONDITIONAL,
                    "Weekly labs; abstinence from alcohol.",
                    review,
                    "",
                )
                self.reviews += 1
            else:
                decision = (DoctorDecision.Decision.APPROVED, "", None, "")
            decisions.append(
                (
                    next(dec_ids),
                    rid,
                    plan.id,
                    *decision,
                    plan.doctor,
                    signed,
                    "password",
                )
            )
        self.counts.add(
            "admission requests",
            copy_rows(
                AdmissionRequest,
                [
                    "id",
                    "patient",
                    "requested_by",
                    "requested_at",
                    "doctor",
                    "clinical_summary",
                    "presenting_problems",
                    "proposed_track",
                    "proposed_start",
                    "medical_probation",
                    "medical_probation_details",
                    "status",
                ],
                requests,
            ),
        )
        self.counts.add(
            "doctor decisions",
            copy_rows(
                DoctorDecision,
                [
                    "id",
                    "request",
                    "patient",
                    "decision",
                    "conditions",
                    "review_date",
                    "reason",
                    "signed_by",
                    "signed_at",
                    "signature_method",
                ],
                decisions,
            ),
        )

    # ---------------------------------------------------------------- sponsors

    def write_sponsors(self):
        rng, today = self.rng, self.today
        days = datetime.timedelta
        sponsors, consents, logins = [], [], []
        sp_ids = reserve_ids(Sponsor, len(self.plans) * 3)
        co_ids = reserve_ids(Consent, len(self.plans) * 3)
        n_logins = sum(1 for p in self.plans if p.status != Patient.Status.REFERRED)
        user_ids = reserve_ids(User, n_logins * 2)
        hashed = make_password(PASSWORD)
        relationships = ["family", "partner", "recovery_sponsor", "employer", "other"]
        for plan in self.plans:
            if plan.status == Patient.Status.REFERRED:
                continue
            people = []
            if rng.random() < 0.75:
                people.append(rng.choice(relationships))
                if rng.random() < 0.25:
                    people.append(rng.choice(relationships))
            if getattr(plan, "court", False):
                people.append("probation")
            start = plan.admitted_on or plan.referred_on
            for relationship in people:
                sid = next(sp_ids)
                name = self._name()
                user = None
                channel = rng.choices(["email", "sms", "both"], [70, 15, 15])[0]
                if relationship == "probation":
                    user = rng.choice(self.officers)
                    name, channel = "Officer", "email"
                elif rng.random() < 0.4:
                    user = next(user_ids)
                    logins.append(
                        (
                            user,
                            f"sponsor{user}@{DOMAIN}",
                            name,
                            "",
                            hashed,
                            False,
                            False,
                            True,
                            self.now,
                        )
                    )
                sponsors.append(
                    (
                        sid,
                        plan.id,
                        name,
                        relationship,
                        f"(555) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                        f"sponsor{sid}@mail.{DOMAIN}",
                        channel,
                        user,
                    )
                )
                roll = rng.random()
                effective = start - days(rng.randint(0, 5))
                expires = effective + days(365)
                revoked = None
                if roll < 0.1:
                    state = Consent.Status.EXPIRED
                    expires = min(expires, today - days(rng.randint(1, 30)))
                    expires = max(expires, effective)
                elif roll < 0.2:
                    state = Consent.Status.REVOKED
                    revoked = min(today, effective + days(rng.randint(7, 60)))
                else:
                    state = Consent.Status.ACTIVE
                if (
                    plan.status == Patient.Status.DISCHARGED
                    and state == Consent.Status.ACTIVE
                ):
                    state = Consent.Status.EXPIRED  # ends on discharge
                consents.append(
                    (
                        next(co_ids),
                        plan.id,
                        sid,
                        CLINIC,
                        rng.choice(["attendance", "attendance", "attendance_hours"]),
                        "To check that I attend and call me if I miss a session.",
                        effective,
                        expires,
                        plan.status == Patient.Status.DISCHARGED,
                        relationship != "probation",
                        "" if relationship != "probation" else "the end of probation",
                        "Signed by the patient",
                        effective,
                        plan.counselor or self.staff_ids[0],
                        revoked,
                        "Written note at the front desk" if revoked else "",
                        self.staff_ids[0] if revoked else None,
                    )
                )
                plan.sponsors.append((sid, state, channel, effective, expires, revoked))
        if logins:
            self.counts.add(
                "users",
                copy_rows(
                    User,
                    [
                        "id",
                        "email",
                        "full_name",
                        "credentials",
                        "password",
                        "is_staff",
                        "is_superuser",
                        "is_active",
                        "date_joined",
                    ],
                    logins,
                ),
            )
            copy_rows(
                User.groups.through,
                ["user", "group"],
                [(row[0], self.sponsor_group_id) for row in logins],
            )
        self.counts.add(
            "sponsors",
            copy_rows(
                Sponsor,
                [
                    "id",
                    "patient",
                    "full_name",
                    "relationship",
                    "phone",
                    "email",
                    "preferred_channel",
                    "user",
                ],
                sponsors,
            ),
        )
        self.counts.add(
            "consents",
            copy_rows(
                Consent,
                [
                    "id",
                    "patient",
                    "sponsor",
                    "disclosing_party",
                    "scope",
                    "purpose",
                    "effective_on",
                    "expires_on",
                    "expires_on_discharge",
                    "revocable",
                    "irrevocable_until",
                    "signed_name",
                    "signed_on",
                    "witnessed_by",
                    "revoked_on",
                    "revoked_how",
                    "revoked_recorded_by",
                ],
                consents,
            ),
        )

    # ---------------------------------------------------------------- schedule

    def assign_groups(self):
        """Give each patient in a track a seat in one of the track's groups for
        their stay; a seat is reused once its last holder has left."""
        self.groups = {t: 0 for t in range(len(TRACKS))}
        self.members = {}  # (track, group) -> [plan]
        seats = {t: [] for t in range(len(TRACKS))}  # heap of (free from, group)
        active = sorted(
            (p for p in self.plans if p.admitted_on is not None),
            key=lambda p: (p.admitted_on, p.id),
        )
        for plan in active:
            heap = seats[plan.track]
            if heap and heap[0][0] <= max(plan.admitted_on, self.week0):
                _, group = heapq.heappop(heap)
            else:
                group = self.groups[plan.track]
                self.groups[plan.track] += 1
                for _ in range(GROUP_SEATS - 1):
                    heapq.heappush(heap, (datetime.date.min, group))
            heapq.heappush(heap, (plan.until + datetime.timedelta(days=1), group))
            plan.group = (plan.track, group)
            self.members.setdefault(plan.group, []).append(plan)

    def _facilitators_by_group(self):
        """Facilitators for each group: distinct within a track (its groups meet at
        the same hours); a second one while counselors remain."""
        result = {}
        for t, n_groups in self.groups.items():
            pool = list(self.counselors)
            self.rng.shuffle(pool)
            for g in range(n_groups):
                first = pool[g % len(pool)] if g < len(pool) else None
                result[(t, g)] = [first] if first else []
            spare = pool[n_groups:]
            for g in range(0, n_groups, 3):
                if not spare:
                    break
                result[(t, g)].append(spare.pop())
        return result

    def plan_sessions(self):
        """Every session with its participants, facilitators and family members."""
        rng = self.rng
        self.sessions = []  # tuples for COPY
        self.participants = []  # (session id, patient id, start, end, added_by, active)
        self.facilitator_rows = []
        self.family_rows = []
        self.attend_targets = []  # (session id, plan, start, end, minutes, recorder)
        facilitators = self._facilitators_by_group()
        series_rows, series_fac = [], []
        series_ids = reserve_ids(SessionSeries, sum(self.groups.values()))
        series_of = {}
        for t, n_groups in self.groups.items():
            _, _, weekdays, hour = TRACKS[t]
            for g in range(n_groups):
                sid = next(series_ids)
                series_of[(t, g)] = sid
                room = self.group_rooms[g] if g < len(self.group_rooms) else None
                series_rows.append(
                    (
                        sid,
                        "group",
                        f"{TRACKS[t][0]} group {g + 1}",
                        self.topics[g % len(self.topics)],
                        list(weekdays),
                        datetime.time(hour),
                        180,
                        self.week0,
                        self.window_end,
                        "in_person" if room else "telehealth",
                        room,
                        "" if room else f"https://meet.{DOMAIN}/group-{t}-{g}",
                        12,
                        self.admin_id,
                    )
                )
                series_fac += [(sid, u) for u in facilitators[(t, g)]]
        self.series_rows, self.series_fac = series_rows, series_fac

        # Count sessions first so that ids can be reserved in one block.
        drafts = []
        day = self.week0
        while day < self.window_end:
            weekday = day.weekday()
            for t, (_, _, weekdays, hour) in enumerate(TRACKS):
                if weekday not in weekdays:
                    continue
                for g in range(self.groups[t]):
                    present = [
                        p
                        for p in self.members.get((t, g), ())
                        if p.admitted_on <= day <= p.until
                    ]
                    if present:
                        drafts.append(("group", day, hour, 180, (t, g), present))
            day += datetime.timedelta(days=1)
        drafts += self._individual_drafts()
        ids = reserve_ids(TherapySession, len(drafts))
        now = self.now
        for kind, day, hour, minutes, key, present in drafts:
            sid = next(ids)
            start = make_local(day, datetime.time(hour))
            end = start + datetime.timedelta(minutes=minutes)
            if kind == "group":
                t, g = key
                room = self.group_rooms[g] if g < len(self.group_rooms) else None
                facs = facilitators[(t, g)]
                series = series_of[(t, g)]
                topic = self.topics[(g + day.toordinal()) % len(self.topics)]
                capacity, title = 12, ""
            else:
                counselor = key
                telehealth = rng.random() < 0.3
                room = None if telehealth else self.office_of[counselor]
                facs, series, topic, capacity = [counselor], None, None, 1
                title = ""
            status, reason = "scheduled", ""
            if end <= now:
                status = "completed"
                if rng.random() < 0.01:
                    status, reason = "cancelled", "Facilitator ill"
                elif end > now - datetime.timedelta(hours=72) and rng.random() < 0.08:
                    status = "scheduled"  # ended, attendance not taken yet
            self.sessions.append(
                (
                    sid,
                    series,
                    kind,
                    title,
                    topic,
                    start,
                    end,
                    "in_person" if room else "telehealth",
                    room,
                    "" if room else f"https://meet.{DOMAIN}/s/{sid}",
                    capacity,
                    status,
                    reason,
                    self.admin_id,
                )
            )
            active = status != "cancelled"
            for u in facs:
                self.facilitator_rows.append((sid, u, start, end, active))
            for plan in present:
                self.participants.append(
                    (sid, plan.id, start, end, self.admin_id, active)
                )
                if status == "completed":
                    self.attend_targets.append(
                        (sid, plan, end, minutes, facs[0] if facs else None)
                    )
            if kind == "family":
                plan = present[0]
                sponsor = plan.sponsors[0][0]
                self.family_rows.append((sid, "Family member", "Sponsor", sponsor))

    def _individual_drafts(self):
        """Individual (every other week) and family (every sixth week) sessions in
        each counselor's one-hour slots; long-stay patients also have a year of
        weekly individual sessions before the window."""
        drafts = []
        by_counselor = {}
        for plan in self.plans:
            if plan.admitted_on is not None:
                by_counselor.setdefault(plan.counselor, []).append(plan)
        for w in range(self.weeks):
            monday = self.week0 + datetime.timedelta(weeks=w)
            for counselor, plans in by_counselor.items():
                slot = 0
                for plan in plans:
                    parity = (plan.id + w) % 6
                    if parity == 3 and plan.sponsors:
                        kind, minutes = "family", 60
                    elif parity % 2 == 0:
                        kind, minutes = "individual", 50
                    else:
                        continue
                    if slot >= 5 * len(SLOT_HOURS):
                        break
                    day = monday + datetime.timedelta(days=slot // len(SLOT_HOURS))
                    hour = SLOT_HOURS[slot % len(SLOT_HOURS)]
                    slot += 1
                    if plan.admitted_on <= day <= plan.until:
                        drafts.append((kind, day, hour, minutes, counselor, [plan]))
        for plan in self.plans:
            if not plan.long_stay:
                continue
            day = plan.admitted_on
            while day < self.week0:
                if day.weekday() in (0, 2, 4):
                    drafts.append(("individual", day, 8, 50, plan.counselor, [plan]))
                day += datetime.timedelta(days=1)
        return drafts

    def write_sessions(self):
        self.counts.add(
            "session series",
            copy_rows(
                SessionSeries,
                [
                    "id",
                    "kind",
                    "title",
                    "topic",
                    "weekdays",
                    "start_time",
                    "duration_minutes",
                    "starts_on",
                    "ends_on",
                    "modality",
                    "room",
                    "telehealth_url",
                    "capacity",
                    "created_by",
                ],
                self.series_rows,
            ),
        )
        copy_rows(
            SessionSeries.facilitators.through,
            ["sessionseries", "user"],
            self.series_fac,
        )
        self.counts.add(
            "sessions",
            copy_rows(
                TherapySession,
                [
                    "id",
                    "series",
                    "kind",
                    "title",
                    "topic",
                    "start",
                    "end",
                    "modality",
                    "room",
                    "telehealth_url",
                    "capacity",
                    "status",
                    "cancel_reason",
                    "created_by",
                ],
                self.sessions,
            ),
        )
        self.counts.add(
            "facilitators",
            copy_rows(
                SessionFacilitator,
                ["session", "user", "start", "end", "active"],
                self.facilitator_rows,
            ),
        )
        self.counts.add(
            "participants",
            copy_rows(
                Participant,
                ["session", "patient", "start", "end", "added_by", "active"],
                self.participants,
            ),
        )
        self.counts.add(
            "family members",
            copy_rows(
                FamilyMember,
                ["session", "name", "relationship", "sponsor"],
                self.family_rows,
            ),
        )

    # ---------------------------------------------------------------- attendance

    def write_attendance(self):
        rng = self.rng
        ids = reserve_ids(Attendance, len(self.attend_targets))
        rows, revisions, alerts, disclosures, audits = [], [], [], [], []
        al_ids = reserve_ids(Alert, len(self.attend_targets))
        for sid, plan, end, minutes, recorder in self.attend_targets:
            aid = next(ids)
            roll = rng.random()
            if roll < plan.reliability:
                status, got = "unexcused", 0
            elif roll < plan.reliability + 0.04:
                status, got = "excused", 0
            elif roll < plan.reliability + 0.09:
                status, got = "late", max(1, minutes - rng.randint(10, 60))
            elif roll < plan.reliability + 0.13:
                status, got = "left_early", max(1, minutes - rng.randint(15, 90))
            else:
                status, got = "present", minutes
            recorder = recorder or plan.counselor or self.admin_id
            at = end + datetime.timedelta(minutes=rng.randint(1, 40))
            rows.append((aid, sid, plan.id, status, got, "", recorder, at))
            audits.append(
                (
                    at,
                    recorder,
                    roles.STAFF,
                    "create",
                    "therapy_sessions.Attendance",
                    str(aid),
                    plan.id,
                    "Recorded attendance",
                )
            )
            if rng.random() < 0.01:
                revisions.append(
                    (
                        aid,
                        "unexcused",
                        0,
                        "",
                        recorder,
                        at,
                        self.admin_id,
                        at + datetime.timedelta(hours=2),
                        "Arrived late; sign-in sheet checked",
                    )
                )
            if status != "unexcused":
                continue
            day = end.date()
            for sponsor, _state, channel, effective, expires, revoked in plan.sponsors:
                ok = effective <= day <= expires and (revoked is None or revoked > day)
                for ch in ("email", "sms") if channel == "both" else (channel,):
                    alert_id = next(al_ids, None) or next(reserve_ids(Alert, 1))
                    sent = at + datetime.timedelta(minutes=2)
                    if not ok:
                        state, reason, sent_at = (
                            "cancelled",
                            "Consent not in force",
                            None,
                        )
                    elif rng.random() < 0.01:
                        state, reason, sent_at = "failed", "", None
                    else:
                        state, reason, sent_at = "sent", "", sent
                    alerts.append(
                        (
                            alert_id,
                            "missed",
                            sid,
                            plan.id,
                            sponsor,
                            ch,
                            state,
                            reason,
                            1 if state == "sent" else (6 if state == "failed" else 0),
                            "550 mailbox unavailable" if state == "failed" else "",
                            sent,
                            sent_at,
                            at,
                        )
                    )
                    if state == "sent":
                        disclosures.append(
                            (
                                plan.id,
                                sponsor,
                                "Sponsor",
                                "Missed session on " + day.isoformat(),
                                ch,
                                f"alert {alert_id}",
                                sent,
                            )
                        )
        self.counts.add(
            "attendance",
            copy_rows(
                Attendance,
                [
                    "id",
                    "session",
                    "patient",
                    "status",
                    "minutes",
                    "note",
                    "recorded_by",
                    "recorded_at",
                ],
                rows,
            ),
        )
        self.counts.add(
            "attendance revisions",
            copy_rows(
                AttendanceRevision,
                [
                    "attendance",
                    "status",
                    "minutes",
                    "note",
                    "recorded_by",
                    "recorded_at",
                    "changed_by",
                    "changed_at",
                    "reason",
                ],
                revisions,
            ),
        )
        self.counts.add(
            "alerts",
            copy_rows(
                Alert,
                [
                    "id",
                    "kind",
                    "session",
                    "patient",
                    "sponsor",
                    "channel",
                    "state",
                    "reason",
                    "attempts",
                    "last_error",
                    "next_attempt_at",
                    "sent_at",
                    "created_at",
                ],
                alerts,
            ),
        )
        self.counts.add(
            "disclosures",
            copy_rows(
                Disclosure,
                [
                    "patient",
                    "sponsor",
                    "recipient",
                    "what",
                    "channel",
                    "reference",
                    "at",
                ],
                disclosures,
            ),
        )
        for plan in self.plans:
            at = make_local(plan.referred_on, datetime.time(9, 30))
            actor = plan.counselor or self.admin_id
            audits.append(
                (
                    at,
                    actor,
                    roles.STAFF,
                    "create",
                    "patients.Patient",
                    str(plan.id),
                    plan.id,
                    "Registered patient",
                )
            )
            for _ in range(self.rng.randint(1, 6)):
                audits.append(
                    (
                        at,
                        actor,
                        roles.STAFF,
                        "view",
                        "patients.Patient",
                        str(plan.id),
                        plan.id,
                        "Viewed patient",
                    )
                )
        self.counts.add(
            "audit events",
            copy_rows(
                AuditEvent,
                [
                    "at",
                    "user",
                    "role",
                    "action",
                    "model",
                    "object_id",
                    "patient",
                    "summary",
                ],
                audits,
            ),
        )

    # ---------------------------------------------------------------- run

    def run(self):
        started = time.monotonic()
        steps = [
            ("people", self.seed_people),
            ("program", self.seed_program),
            ("patients", self.plan_patients),
            ("patients", self.write_patients),
            ("admissions", self.write_admissions),
            ("sponsors", self.write_sponsors),
            ("groups", self.assign_groups),
            ("schedule", self.plan_sessions),
            ("schedule", self.write_sessions),
            ("attendance", self.write_attendance),
        ]
        with transaction.atomic():
            for name, step in steps:
                t0 = time.monotonic()
                step()
                self.log(f"  {name:<12} {time.monotonic() - t0:6.1f} s")
        # As autovacuum leaves a live database: the attendance load updated every
        # marked participation (Participant.marked), and the dead row versions
        # would otherwise sit in the partial index of unmarked ones.
        with connection.cursor() as cursor:
            if connection.in_atomic_block:  # --here, inside the test's transaction
                cursor.execute("ANALYZE")
            else:
                cursor.execute("VACUUM ANALYZE")
        self.elapsed = time.monotonic() - started
        return self.counts.rows
