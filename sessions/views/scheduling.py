"""Scheduling pages: week calendar, day agenda, session and series pages, forms,
topics, and the iCalendar feeds."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from accounts.roles import CLINICAL, FRONT_DESK, has_role, require_role
from core.timeutil import clinic_today, local
from patients.models import Patient
from sessions import ical
from sessions.forms import scheduling as forms
from sessions.models import CalendarFeed, FamilyMember, Room, Topic
from sessions.selectors import scheduling as selectors
from sessions.selectors import session_page
from sessions.services import scheduling as services
from sessions.services.scheduling import SchedulingError
from sessions.views.attendance import roster_errors


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _posted(request):
    """The POST data to bind, or None on GET (an empty POST is still a submission)."""
    return request.POST if request.method == "POST" else None


def _form_error(form, exc):
    for message in exc.messages:
        form.add_error(None, message)


# The session key of the calendar view a user saw last (the ids of a room and/or a
# facilitator; {} for the whole clinic), so that opening the calendar again gives
# them their usual view. A patient's week is a look-up and is not remembered.
CALENDAR_VIEW = "calendar_view"


def _date(value):
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return None


class _Choices:
    """The calendar's rooms and facilitators, read from the database only when a
    view needs them (a room or someone else's week, or the selects shown): the
    user's own week and the whole clinic's need neither."""

    def __init__(self, me):
        self.me = me
        self.options = None

    def load(self):
        if self.options is None:
            self.options = selectors.calendar_filter_options()
            self.rooms = {r.pk: r for r in self.options["rooms"]}
            self.people = {u.pk: u for u in self.options["facilitators"]}
            self.people.setdefault(self.me.pk, self.me)
        return self

    def room(self, pk):
        return self.load().rooms.get(pk) if pk else None

    def person(self, pk):
        if pk == self.me.pk:
            return self.me
        return self.load().people.get(pk) if pk else None


def _last_view(request, choices):
    """The room and facilitator of the view this user saw last; the first time, their
    own sessions if they facilitate any, the whole clinic if not."""
    last = request.session.get(CALENDAR_VIEW)
    if isinstance(last, dict):
        room = choices.room(last.get("room"))
        facilitator = choices.person(last.get("facilitator"))
        if room or facilitator or not last:
            return room, facilitator
    # Nothing seen yet (or the room or person seen last is gone).
    return None, choices.me if selectors.user_facilitates(request.user) else None


def _calendar_scope(request, choices):
    """Whose sessions the calendar shows: the room, facilitator or patient in the
    URL, "My sessions" (show=mine) or the whole clinic (show=all); with none of
    these, the view this user saw last."""
    get = request.GET
    me = choices.me
    # The patient search is POSTed (no patient name or record number in a URL);
    # a single match is then shown by id.
    find = request.POST.get("find", "") if request.method == "POST" else ""
    find = find.strip()[:100]
    matches = selectors.calendar_patient_matches(find) if find else []
    room = facilitator = patient = None
    if len(matches) == 1:
        # A patient found by name: their whole week, whatever the selects said.
        patient, matches, find = matches[0], [], ""
    elif not find:
        room = choices.room(_int(get.get("room")))
        facilitator = choices.person(_int(get.get("facilitator")))
        patient_pk = _int(get.get("patient"))
        patient = selectors.calendar_patient(patient_pk) if patient_pk else None
    if not (room or facilitator or patient):
        # A search that found no one, or several, keeps the last view.
        show = None if find else get.get("show")
        if show == "mine":
            facilitator = me
        elif show != "all":
            room, facilitator = _last_view(request, choices)
    if patient is None:
        seen = {"room": room and room.pk, "facilitator": facilitator and facilitator.pk}
        seen = {k: v for k, v in seen.items() if v}
        if request.session.get(CALENDAR_VIEW) != seen:
            request.session[CALENDAR_VIEW] = seen
    mine = facilitator == me and not (room or patient)
    whole_clinic = not (room or facilitator or patient)
    if mine or whole_clinic:
        query = {"show": "mine" if mine else "all"}
    else:
        query = {
            "room": room and room.pk,
            "facilitator": facilitator and facilitator.pk,
            "patient": patient and patient.pk,
        }
    return {
        "room": room,
        "facilitator": facilitator,
        "patient": patient,
        "mine": mine,
        "whole_clinic": whole_clinic,
        "find": find,
        "matches": matches[: selectors.PATIENT_MATCHES],
        "more_matches": len(matches) > selectors.PATIENT_MATCHES,
        "filter_query": "".join(f"&{k}={v}" for k, v in query.items() if v),
    }


@require_role(*CLINICAL)
@require_http_methods(["GET", "POST"])
def calendar(request):
    """The week calendar: the user's own sessions, a room's, a facilitator's, a
    patient's, or the whole clinic's (one day at a time when the week is full).
    A patient search is POSTed: one match opens that patient's week (by id),
    several or none are listed on the answer to the POST."""
    monday, valid = selectors.parse_week(request.GET.get("week"))
    user = request.user
    choices = _Choices(selectors.Choice(user.pk, user.full_name or user.email))
    scope = _calendar_scope(request, choices)
    if request.method == "POST" and scope["patient"] is not None:
        week = selectors.iso_week(monday)
        return redirect(f"{request.path}?week={week}&patient={scope['patient'].pk}")
    context = selectors.calendar_week(
        monday=monday,
        room_id=scope["room"] and scope["room"].pk,
        facilitator_id=scope["facilitator"] and scope["facilitator"].pk,
        patient_id=scope["patient"] and scope["patient"].pk,
        day=_date(request.GET.get("day")),
    )
    # The room and facilitator selects are shown with a room's or someone else's
    # week, or on asking (choose=1); "My sessions" and the whole clinic show a link
    # to them instead. "My sessions" is a tab, not the facilitator select: a room
    # chosen from there shows the room's week, not the user's sessions in it.
    chosen = None if scope["mine"] else scope["facilitator"]
    if not request.htmx and (chosen or scope["room"] or request.GET.get("choose")):
        choices.load()
    options = choices.options or {"rooms": [], "facilitators": []}
    filter_form = forms.CalendarFilterForm(
        rooms=options["rooms"],
        facilitators=options["facilitators"],
        initial={
            "room": scope["room"] and scope["room"].pk,
            "facilitator": chosen and chosen.pk,
            "find": scope["find"],
        },
    )
    context.update(
        scope,
        filter_form=filter_form,
        show_choices=choices.options is not None,
        week_invalid=not valid,
        can_edit=has_role(request.user, *FRONT_DESK),
    )
    template = (
        "sessions/partials/_week.html" if request.htmx else "sessions/calendar.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_role(*CLINICAL)
@require_GET
def agenda(request):
    """The front desk's day: every session with its expected people."""
    form = forms.AgendaForm(request.GET or None)
    day = clinic_today()
    if form.is_valid() and form.cleaned_data.get("day"):
        day = form.cleaned_data["day"]
    sessions = selectors.day_agenda(day=day)
    return render(
        request,
        "sessions/agenda.html",
        {
            "form": form,
            "day": day,
            "prev_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "today": clinic_today(),
            "sessions": sessions,
            "can_edit": has_role(request.user, *FRONT_DESK),
        },
    )


def _session_or_404(pk):
    try:
        return selectors.session_detail(pk)
    except selectors.TherapySession.DoesNotExist as exc:
        raise Http404("No such session.") from exc


def _render_detail(request, pk, status=200, **extra):
    """The session page: the session, its people and its roster in one statement
    (session_page.session_detail_page), with a refused roster submission's
    errors shown once; `extra`: a refused form of this page, shown instead of a
    blank one."""
    errors, values = roster_errors(request, pk)
    page = session_page.session_detail_page(
        pk=pk, user=request.user, errors=errors, values=values
    )
    if page is None:
        raise Http404("No such session.")
    session, context = page["session"], page["context"]
    can_edit = has_role(request.user, *FRONT_DESK)
    context.update(
        can_edit=can_edit,
        add_form=extra.pop("add_form", None)
        or (forms.ParticipantAddForm() if can_edit else None),
        family_form=extra.pop("family_form", None)
        or (
            forms.FamilyMemberForm(sponsors=context["sponsors"])
            if can_edit and session.kind == "family"
            else None
        ),
        roster=page["roster"],
        **extra,
    )
    return render(request, "sessions/detail.html", context, status=status)


@require_role(*CLINICAL)
@require_GET
def detail(request, pk):
    return _render_detail(request, pk)


@require_role(*FRONT_DESK)
def session_create(request):
    initial = {}
    if request.method == "GET":
        for key in ("date", "start_time", "kind", "room"):
            if request.GET.get(key):
                initial[key] = request.GET[key]
    form = forms.SessionForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        start, end = form.times()
        patient = form.cleaned_data["patient"]
        try:
            session = services.session_create(
                start=start,
                end=end,
                actor=request.user,
                patients=[patient] if patient else [],
                **form.shape(),
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Scheduled {services.describe(session)}.")
            return redirect("therapy_sessions:detail", pk=session.pk)
    return render(request, "sessions/session_form.html", {"form": form})


@require_role(*FRONT_DESK)
def series_create(request):
    initial = {"starts_on": clinic_today()}
    if request.method == "GET":
        for key in ("starts_on", "start_time", "kind", "room"):
            if request.GET.get(key):
                initial[key] = request.GET[key]
        # The calendar links give the day's weekday in Django's "w" (0 = Sunday).
        sunday_first = _int(request.GET.get("weekdays"))
        if sunday_first is not None and 0 <= sunday_first <= 6:
            initial["weekdays"] = [(sunday_first - 1) % 7]
    form = forms.SeriesForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            series = services.series_create(
                weekdays=d["weekdays"],
                start_time=d["start_time"],
                duration_minutes=d["duration_minutes"],
                starts_on=d["starts_on"],
                ends_on=d["ends_on"],
                occurrences=d["occurrences"],
                patients=list(d["patients"]),
                actor=request.user,
                **form.shape(),
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            count = series.sessions.count()
            messages.success(request, f"Scheduled {count} sessions of {series}.")
            return redirect("therapy_sessions:series", pk=series.pk)
    return render(request, "sessions/series_form.html", {"form": form})


@require_role(*CLINICAL)
def series_detail(request, pk):
    try:
        series = selectors.series_detail(pk)
    except selectors.SessionSeries.DoesNotExist as exc:
        raise Http404("No such series.") from exc
    can_edit = has_role(request.user, *FRONT_DESK)
    form = None
    if can_edit:
        form = forms.SeriesPatientForm(_posted(request))
    elif request.method == "POST":
        return HttpResponse(status=403)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["action"] == "add":
                added = services.series_patient_add(
                    series=series,
                    patient=d["patient"],
                    from_date=d["from_date"],
                    actor=request.user,
                )
                messages.success(
                    request,
                    f"{d['patient'].full_name} added to {len(added)} sessions.",
                )
            else:
                removed = services.series_patient_remove(
                    series=series,
                    patient=d["patient"],
                    from_date=d["from_date"],
                    actor=request.user,
                )
                messages.success(
                    request,
                    f"{d['patient'].full_name} removed from {removed} sessions.",
                )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            return redirect("therapy_sessions:series", pk=series.pk)
    context = selectors.series_page(series=series)
    context.update(form=form, can_edit=can_edit)
    return render(request, "sessions/series_detail.html", context)


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def series_reschedule(request, pk):
    """Move the rest of a series to other weekdays or another time."""
    try:
        series = selectors.series_detail(pk)
    except selectors.SessionSeries.DoesNotExist as exc:
        raise Http404("No such series.") from exc
    form = forms.SeriesRescheduleForm(_posted(request), series=series)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            target, sessions = services.series_reschedule(
                series=series,
                from_date=d["from_date"],
                weekdays=d["weekdays"],
                start_time=d["start_time"],
                duration_minutes=d["duration_minutes"],
                actor=request.user,
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                f"{len(sessions)} sessions scheduled from "
                f"{d['from_date']:%b %-d, %Y} on the new days; the patients "
                "booked on the old ones were moved with them.",
            )
            return redirect("therapy_sessions:series", pk=target.pk)
    return render(
        request, "sessions/series_reschedule.html", {"series": series, "form": form}
    )


@require_role(*FRONT_DESK)
def session_edit(request, pk):
    session = _session_or_404(pk)
    start = local(session.start)
    initial = {
        "scope": "one",
        "start_time": start.time().replace(second=0, microsecond=0),
        "duration_minutes": session.minutes,
        "title": session.title,
        "topic": session.topic_id,
        "modality": session.modality,
        "room": session.room_id,
        "telehealth_url": session.telehealth_url,
        "capacity": session.capacity,
        "facilitators": [link.user_id for link in session.facilitator_links.all()],
    }
    form = forms.SessionEditForm(_posted(request), initial=initial, session=session)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.session_update(
                session=session, actor=request.user, **form.changes()
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                f"Saved {len(changed)} session{'s' if len(changed) != 1 else ''}.",
            )
            return redirect("therapy_sessions:detail", pk=session.pk)
    return render(
        request, "sessions/session_edit.html", {"form": form, "session": session}
    )


@require_role(*FRONT_DESK)
def session_cancel(request, pk):
    session = _session_or_404(pk)
    form = forms.CancelForm(_posted(request), session=session)
    if request.method == "POST" and form.is_valid():
        try:
            cancelled = services.session_cancel(
                session=session,
                reason=form.cleaned_data["reason"],
                scope=form.cleaned_data.get("scope", "one"),
                actor=request.user,
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                f"Cancelled {len(cancelled)} session"
                f"{'s' if len(cancelled) != 1 else ''}.",
            )
            return redirect("therapy_sessions:detail", pk=session.pk)
    return render(
        request, "sessions/session_cancel.html", {"form": form, "session": session}
    )


@require_role(*FRONT_DESK)
@require_POST
def participant_add(request, pk):
    session = _session_or_404(pk)
    form = forms.ParticipantAddForm(request.POST)
    if form.is_valid():
        patient = form.cleaned_data["patient"]
        try:
            services.participant_add(
                session=session, patient=patient, actor=request.user
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{patient.full_name} added.")
            return redirect("therapy_sessions:detail", pk=session.pk)
    return _render_detail(request, session.pk, status=400, add_form=form)


@require_role(*FRONT_DESK)
@require_POST
def participant_remove(request, pk, patient_pk):
    session = _session_or_404(pk)
    patient = get_object_or_404(Patient, pk=patient_pk)
    try:
        services.participant_remove(
            session=session, patient=patient, actor=request.user
        )
    except SchedulingError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"{patient.full_name} removed.")
    return redirect("therapy_sessions:detail", pk=session.pk)


@require_role(*FRONT_DESK)
@require_POST
def family_member_add(request, pk):
    session = _session_or_404(pk)
    context = selectors.session_page(session=session)
    form = forms.FamilyMemberForm(request.POST, sponsors=context["sponsors"])
    if form.is_valid():
        try:
            services.family_member_add(
                session=session,
                actor=request.user,
                name=form.cleaned_data["name"],
                relationship=form.cleaned_data["relationship"],
                sponsor=form.cleaned_data["sponsor"],
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Family member added.")
            return redirect("therapy_sessions:detail", pk=session.pk)
    return _render_detail(request, session.pk, status=400, family_form=form)


@require_role(*FRONT_DESK)
@require_POST
def family_member_remove(request, pk, member_pk):
    member = get_object_or_404(FamilyMember, pk=member_pk, session_id=pk)
    services.family_member_remove(member=member, actor=request.user)
    messages.success(request, f"{member.name} removed.")
    return redirect("therapy_sessions:detail", pk=pk)


@require_role(*FRONT_DESK)
def topics(request):
    """The clinic's curriculum of group topics: add, rename, retire."""
    form = forms.TopicForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            topic_pk = _int(request.POST.get("topic"))
            if topic_pk:
                topic = get_object_or_404(Topic, pk=topic_pk)
                services.topic_update(
                    topic=topic,
                    name=form.cleaned_data["name"],
                    active=form.cleaned_data["active"],
                    actor=request.user,
                )
                messages.success(request, f"Saved “{topic.name}”.")
            else:
                topic = services.topic_create(
                    name=form.cleaned_data["name"], actor=request.user
                )
                messages.success(request, f"Added “{topic.name}”.")
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            return redirect("therapy_sessions:topics")
    return _topics_page(request, form=form)


def _topics_page(request, *, form=None, room_form=None, status=200):
    return render(
        request,
        "sessions/topics.html",
        {
            "form": form or forms.TopicForm(),
            "room_form": room_form or forms.RoomForm(),
            "topics": list(selectors.topic_list()),
            "rooms": list(Room.objects.order_by("-active", "name")),
        },
        status=status,
    )


@require_role(*FRONT_DESK)
@require_POST
def rooms(request):
    """Add a room, or change one (name, places, in use) from the topics page."""
    form = forms.RoomForm(request.POST)
    if form.is_valid():
        room_pk = _int(request.POST.get("room"))
        room = get_object_or_404(Room, pk=room_pk) if room_pk else None
        try:
            room = services.room_save(
                actor=request.user, room=room, **form.cleaned_data
            )
        except SchedulingError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Saved {room.name}.")
            return redirect("therapy_sessions:topics")
    return _topics_page(request, room_form=form, status=400)


@require_role(*CLINICAL)
def my_feed(request):
    """The signed-in facilitator's feed link; POST makes a new secret link."""
    if request.method == "POST":
        services.calendar_feed_regenerate(actor=request.user, user=request.user)
        messages.success(request, "New calendar link made; the old one stops working.")
        return redirect("therapy_sessions:my_feed")
    feed = CalendarFeed.objects.filter(user=request.user).first()
    return render(
        request,
        "sessions/feed.html",
        {"feed": feed, "feed_url": _feed_url(request, feed), "owner": request.user},
    )


@require_role(*FRONT_DESK)
@require_POST
def patient_feed_regenerate(request, patient_pk):
    patient = get_object_or_404(Patient, pk=patient_pk)
    feed = services.calendar_feed_regenerate(actor=request.user, patient=patient)
    messages.success(
        request,
        f"New calendar link for {patient.full_name}: {_feed_url(request, feed)}",
    )
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("patients:detail", kwargs={"pk": patient.pk})
    # Not redirect(): it would try a string like "-1" as a URL name (500).
    return HttpResponseRedirect(target)


def _feed_url(request, feed):
    if feed is None:
        return ""
    return request.build_absolute_uri(
        reverse("therapy_sessions:feed", kwargs={"token": feed.token})
    )


@login_not_required
@never_cache
@require_GET
def feed(request, token):
    """A public iCalendar feed; the secret token in the URL is the only key."""
    feed = (
        CalendarFeed.objects.filter(token=token)
        .select_related("user", "patient")
        .first()
    )
    if feed is None or (feed.user_id and not feed.user.is_active):
        raise Http404("No such calendar.")
    body = ical.render_feed(feed=feed, sessions=selectors.feed_sessions(feed))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="sessions.ics"'
    return response
