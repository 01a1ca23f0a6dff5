"""The milestone rules, once: recording and removing periods, detection, and a person's updates, on named rows.

Every write of the service is decided here and returned as a `Change`: a posted summary, a bulk batch, a
person's update or removal, a removed period. Detection works in integer hundredths on rows (`rows`) and
never builds an object per milestone, so the same code serves one POST and a bulk run of a million lines.
`tests/reference_model.py` states the rules again, as plainly as possible, and property tests hold this
module equal to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from milestones.domain.changes import (
    ACHIEVED,
    CREATED,
    DELETED,
    REINSTATED,
    REVOKED,
    UPDATED,
    Actor,
    Cause,
    Change,
    Step,
    Transition,
    transition_kind,
)
from milestones.domain.evidence import PERIOD_END, contacts_total, crossing
from milestones.domain.model import (
    MAX_REASON,
    REVOKED_BY_CORRECTION,
    Definition,
    LostThreshold,
    MetricType,
    MilestoneUpdate,
    Precision,
    Status,
    milestone_id,
)
from milestones.domain.rows import (
    MentorRow,
    MilestoneRow,
    PeriodRow,
    StoredRows,
    encode_time,
    end_of_day,
    row_version,
    to_centi,
)
from milestones.errors import (
    InvalidUpdate,
    MilestoneNotFound,
    MilestonesError,
    PeriodNotFound,
    PeriodOverlap,
    PreconditionFailed,
)

# Plain strings: an enum member's .value is a property call, too slow for a million summaries.
_ACHIEVED = Status.ACHIEVED.value
_STATUS = MilestoneRow._fields.index("status")
_IN_PROGRESS = Status.IN_PROGRESS.value
_REVOKED = Status.REVOKED.value
_HOURS = MetricType.HOURS_LOGGED.value
_CONTACTS = MetricType.CONTACTS_HELPED.value
_ACTIVITIES = MetricType.ACTIVITY_COUNT.value
# Each metric's PeriodRow field, and its factor to hundredths.
_METRIC_FIELDS = {
    _HOURS: ("total_hours_centi", 1),
    _CONTACTS: ("unique_contacts_helped", 100),
    _ACTIVITIES: ("activity_count", 100),
}
# A mentor's periods by (start_date, end_date), and milestone rows by definition key.
Periods = dict[tuple[str, str], PeriodRow]
Records = dict[str, MilestoneRow]


@dataclass(frozen=True, slots=True)
class Rung:
    """A catalog definition in row terms, with the PeriodRow field its metric sums and the factor to hundredths."""

    key: str
    name: str
    type: str
    threshold_centi: int
    position: int
    field: str
    factor: int
    # What follows the mentor id in the ids of this rung's milestones.
    id_suffix: str
    # The catalog version the rung is of: records created or revised on it carry it.
    version: str = ""


class RuleCatalog:
    """The catalog arranged for the rules: rungs in catalog order, and each metric's ladder. `version` names the
    stored catalog version: every change decided with it carries it, and storage refuses the change if a newer
    version was published meanwhile (so that two versions never interleave on one mentor). `on_lost_threshold`
    (MILESTONES_ON_LOST_THRESHOLD) travels with it, so that bulk detection's second process decides as a POST does."""

    def __init__(
        self,
        catalog: Sequence[Definition],
        version: str = "",
        on_lost_threshold: LostThreshold = LostThreshold.KEEP,
    ) -> None:
        self.version = version
        self.on_lost_threshold = on_lost_threshold
        self.revokes_lost = on_lost_threshold is LostThreshold.REVOKE
        self.rungs = tuple(
            Rung(
                d.key,
                d.name,
                d.type.value,
                to_centi(d.threshold),
                d.position,
                *_METRIC_FIELDS[d.type.value],
                id_suffix=milestone_id("", d.key),
                version=version,
            )
            for d in catalog
        )
        self.keys = frozenset(r.key for r in self.rungs)
        # The next rung of a metric is its lowest unreached one, ties broken by position.
        self.ladders = tuple(
            tuple(sorted((r for r in self.rungs if r.type == metric), key=lambda r: (r.threshold_centi, r.position)))
            for metric in dict.fromkeys(r.type for r in self.rungs)
        )


def totals(periods: Periods) -> dict[str, int]:
    """The mentor's cumulative value of each metric, in hundredths; contacts are exact where periods came with
    identifiers (`evidence.contacts_total`). `_UPPER_BOUND` says whether the contacts value is an upper bound."""
    hours = contacts = activities = 0
    counted = 0
    identified = False
    for period in periods.values():
        hours += period.total_hours_centi
        contacts += period.unique_contacts_helped
        activities += period.activity_count
        if period.unique_contacts_helped:
            counted += 1
            if period.contacts is not None:
                identified = True
    if identified:
        exact, upper_bound = contacts_total(periods.values())
        contacts = exact
    else:
        upper_bound = counted >= 2
    return {_HOURS: hours, _CONTACTS: 100 * contacts, _ACTIVITIES: 100 * activities, _UPPER_BOUND: upper_bound}


# The key of totals' answer that says whether the contacts value is an upper bound (no metric is named so).
_UPPER_BOUND = "upper_bound"
_DETECTED = Precision.DETECTED.value
_SET_BY_PERSON = Precision.SET_BY_PERSON.value


def check_contacts_kind(periods: Periods, row: PeriodRow) -> None:
    """Refuse a period whose identifiers are hashed where the mentor's stored ones are plain, or the reverse: a
    mentor's identifiers are all of one kind, so that the union compares like with like."""
    if not row.contacts:
        return
    hashed = row.contacts.startswith("sha256:")
    span = (row.start_date, row.end_date)
    for other_span, other in periods.items():
        if other_span != span and other.contacts and other.contacts.startswith("sha256:") != hashed:
            kind, stored = ("hashed", "plain") if hashed else ("plain", "hashed")
            raise InvalidUpdate(
                f"The period's contacts are {kind} identifiers, but this mentor's stored ones are {stored}; "
                "send all of a mentor's identifiers the same way.",
                "contacts",
            )


# --- one mentor's rows -------------------------------------------------------------------------------------


def record_period(periods: Periods, row: PeriodRow) -> None:
    """Add a period, or replace the stored one with the same dates (a correction); refuse an overlap."""
    span = (row.start_date, row.end_date)
    if span not in periods:
        # Inclusive on both ends: periods that share a day overlap. In date order, so the message names
        # the earliest stored period it overlaps.
        for other_start, other_end in sorted(periods):
            if row.start_date <= other_end and other_start <= row.end_date:
                raise PeriodOverlap(
                    f"The period {row.start_date}..{row.end_date} overlaps the stored period "
                    f"{other_start}..{other_end}; delete that one first or post the same dates."
                )
    periods[span] = row


def detect(
    mentor_id: str,
    periods: Periods,
    records: Records,
    catalog: RuleCatalog,
    now: str,
    *,
    sums: dict[str, int] | None = None,
    previous: Callable[[], dict[str, int]] | None = None,
) -> Records:
    """The milestone rows to keep, by definition key, given the mentor's periods and stored rows.

    Reached milestones are kept forever; of the unreached ones only the lowest rung of each metric is kept,
    as in progress. Records a person has set keep their status and values; only their current value
    follows the periods. Revoked records stay as they are: detection never awards them again. `now` is the
    current time as rows encode it: nothing is achieved after it. `sums`: `totals(periods)` when the caller has
    it; `previous`: the totals before the change (asked only when an achieved threshold may have been lost).
    """
    if sums is None:
        sums = totals(periods)
    upper_bound = bool(sums[_UPPER_BOUND])
    if not records:
        return _detect_new(mentor_id, periods, sums, catalog, now)
    ordered: list[PeriodRow] | None = None
    kept: Records = {}
    unreached: set[str] = set()

    for rung in catalog.rungs:
        record = records.get(rung.key)
        current = sums[rung.type]
        if record is not None and record.status == _ACHIEVED:
            # Reached records keep their history but follow the catalog's current order.
            kept[rung.key] = lost_or_regained(
                record if record.position == rung.position else record._replace(position=rung.position),
                sums,
                previous,
                catalog,
                now,
            )
        elif record is not None and record.status == _REVOKED:
            kept[rung.key] = record if record.position == rung.position else record._replace(position=rung.position)
        elif record is not None and record.set_by_person:
            bound = upper_bound and rung.type == _CONTACTS
            if (
                record.position == rung.position
                and record.current_centi == current
                and record.value_is_upper_bound == bound
            ):
                kept[rung.key] = record
            else:
                kept[rung.key] = record._replace(
                    position=rung.position, current_centi=current, value_is_upper_bound=bound
                )
        elif current >= rung.threshold_centi:
            if ordered is None:
                ordered = [periods[span] for span in sorted(periods)]
            kept[rung.key] = _achieved_row(mentor_id, rung, current, ordered, now, upper_bound)
        else:
            unreached.add(rung.key)

    for ladder in catalog.ladders:
        for rung in ladder:
            if rung.key not in unreached:
                continue
            record = records.get(rung.key)
            current = sums[rung.type]
            bound = upper_bound and rung.type == _CONTACTS
            if record is None:
                kept[rung.key] = _new_row(mentor_id, rung, _IN_PROGRESS, current, None, None, None, bound)
            elif (
                record.current_centi == current
                and record.value_is_upper_bound == bound
                and record.name == rung.name
                and record.threshold_centi == rung.threshold_centi
                and record.position == rung.position
                and record.type == rung.type
                and record.catalog_version == rung.version
            ):
                kept[rung.key] = record  # a re-run's common case: nothing moved
            else:
                # The rung being worked towards shows the catalog's current version: its wording and threshold.
                kept[rung.key] = record._replace(
                    name=rung.name,
                    type=rung.type,
                    threshold_centi=rung.threshold_centi,
                    position=rung.position,
                    current_centi=current,
                    catalog_version=rung.version,
                    value_is_upper_bound=bound,
                )
            break

    # Records whose definition left the catalog: reached or person-set ones are history and stay.
    for key, record in records.items():
        if key not in kept and key not in catalog.keys:
            if record.status == _ACHIEVED:
                kept[key] = lost_or_regained(record, sums, previous, catalog, now)
            elif record.status == _REVOKED:
                kept[key] = record
            elif record.set_by_person:
                current = sums[record.type]
                bound = upper_bound and record.type == _CONTACTS
                if record.current_centi == current and record.value_is_upper_bound == bound:
                    kept[key] = record
                else:
                    kept[key] = record._replace(current_centi=current, value_is_upper_bound=bound)
    return kept


def lost_or_regained(
    record: MilestoneRow,
    sums: dict[str, int],
    previous: Callable[[], dict[str, int]] | None,
    catalog: RuleCatalog,
    now: str,
) -> MilestoneRow:
    """An achieved record after a change of the mentor's values: the one rule of lost thresholds.

    Only a change that crosses the record's own threshold (the one of the version it was achieved under) moves
    it. Down (the value before reached it, the value now does not): under `keep` it stays achieved with
    `supported` False, under `revoke` it is revoked with the reason REVOKED_BY_CORRECTION. Up again: an
    unsupported record is supported once more. A change that crosses nothing (a person's achieved milestone whose
    value never reached its threshold, say) leaves the record as it is, so it writes nothing.
    """
    current = sums[record.type]
    threshold = record.threshold_centi
    if not record.supported:
        return record._replace(supported=True) if current >= threshold else record
    if current >= threshold or previous is None or previous()[record.type] < threshold:
        return record
    if catalog.revokes_lost:
        return revoked_row(record, REVOKED_BY_CORRECTION, now)
    return record._replace(supported=False)


def revoked_row(record: MilestoneRow, reason: str, now: str) -> MilestoneRow:
    """An achieved record revoked at `now` (as rows encode times) for `reason`: it keeps its id, values and
    dates. The one place a revocation is made: a person's PUT, a lost threshold and a re-evaluation call it."""
    return record._replace(status=_REVOKED, revoked_at=now, revocation_reason=reason, supported=True)


def _detect_new(mentor_id: str, periods: Periods, sums: dict[str, int], catalog: RuleCatalog, now: str) -> Records:
    """detect for a mentor with no stored milestones, the common case of a first bulk run: each ladder's
    reached rungs, then its lowest unreached one. The same result as the general loop, in a third of the time."""
    ordered = [periods[span] for span in sorted(periods)]
    upper_bound = bool(sums[_UPPER_BOUND])
    kept: Records = {}
    for ladder in catalog.ladders:
        for rung in ladder:
            current = sums[rung.type]
            if current < rung.threshold_centi:
                bound = upper_bound and rung.type == _CONTACTS
                kept[rung.key] = _new_row(mentor_id, rung, _IN_PROGRESS, current, None, None, None, bound)
                break
            kept[rung.key] = _achieved_row(mentor_id, rung, current, ordered, now, upper_bound)
    return kept


def _achieved_row(
    mentor_id: str, rung: Rung, current: int, ordered: list[PeriodRow], now: str, upper_bound: bool
) -> MilestoneRow:
    """A rung detection achieves now: achieved_at is the last second of the day its running total crossed the
    threshold (`evidence.crossing`), or now when that is earlier."""
    if len(ordered) == 1 and not ordered[0].daily and not ordered[0].contacts:
        day, precision = ordered[0].end_date, PERIOD_END  # one summary, no evidence: the common case, inline
    else:
        day, precision = crossing(ordered, rung.type, rung.threshold_centi)
    achieved_at = end_of_day(day)
    if now < achieved_at:
        achieved_at, precision = now, _DETECTED
    bound = upper_bound and rung.type == _CONTACTS
    return _new_row(mentor_id, rung, _ACHIEVED, current, current, achieved_at, precision, bound)


def _new_row(
    mentor_id: str,
    rung: Rung,
    status: str,
    current: int,
    achieved: int | None,
    achieved_at: str | None,
    precision: str | None,
    upper_bound: bool,
) -> MilestoneRow:
    """A milestone row detection creates (not set by a person)."""
    # tuple.__new__ skips the NamedTuple's own __new__, half the cost of the millions a bulk run creates.
    return _make_row(
        MilestoneRow,
        (
            mentor_id + rung.id_suffix, mentor_id, rung.key, rung.name, rung.type, rung.threshold_centi,
            rung.position, status, current, achieved, achieved_at, False, rung.version, precision, upper_bound,
            None, None, True,
        ),
    )  # fmt: skip


_make_row = tuple.__new__
_make_step = tuple.__new__


# A person's clock may run a little ahead of ours: achieved_at up to this far in the future is accepted.
CLOCK_SKEW = timedelta(minutes=1)


def update_record(record: MilestoneRow, update: MilestoneUpdate, now: datetime, current: int) -> MilestoneRow:
    """A person's partial update of one milestone; absent fields keep their values, and an update with no
    fields changes nothing. `current` is the mentor's value of the milestone's metric, in hundredths."""
    if update == MilestoneUpdate():
        return record
    if update.status is Status.REVOKED or (update.status is None and record.status == _REVOKED):
        return _revoked_by_person(record, update, now)
    if update.reason is not None:
        raise InvalidUpdate("reason is taken only with status 'revoked'; leave it out or send that status.", "reason")
    if record.status == _REVOKED and update.status is Status.IN_PROGRESS:
        raise InvalidUpdate(
            "status cannot be in_progress: the milestone is revoked. A person can reinstate it with status 'achieved'.",
            "status",
        )
    value = update.achieved_value
    if value is not None and (not value.is_finite() or value < 0):
        raise InvalidUpdate("achieved_value must be a number of 0 or more.", "achieved_value")
    if update.achieved_at is not None and update.achieved_at > now + CLOCK_SKEW:
        raise InvalidUpdate("achieved_at is in the future; a milestone can only be achieved by now.", "achieved_at")
    status = (update.status or Status(record.status)).value
    achieved_centi = None if value is None else to_centi(value)
    achieved_at = None if update.achieved_at is None else encode_time(update.achieved_at)
    if status == _IN_PROGRESS:
        if achieved_at is not None:
            raise InvalidUpdate("achieved_at cannot be set on a milestone that is in progress.", "achieved_at")
        if achieved_centi is not None:
            raise InvalidUpdate(
                "achieved_value can only be set on an achieved milestone; send status 'achieved' with it.",
                "achieved_value",
            )
        if current >= record.threshold_centi:
            raise InvalidUpdate(
                "status cannot be in_progress: the mentor's current value already meets the threshold. "
                "To take the milestone away, DELETE it.",
                "status",
            )
        return record._replace(
            status=status, achieved_centi=None, achieved_at=None, set_by_person=True, achieved_at_precision=None
        )
    # A revoked milestone was achieved: reinstating it keeps its value and date unless the person gives others.
    was_achieved = record.status == _ACHIEVED or record.status == _REVOKED
    if achieved_centi is None:
        achieved_centi = record.achieved_centi if was_achieved else record.current_centi
    # A date the person gives, or the time they achieved it, was set by them; one kept keeps how it was found.
    precision = _SET_BY_PERSON
    if achieved_at is None:
        if was_achieved and record.achieved_at:
            achieved_at, precision = record.achieved_at, record.achieved_at_precision or _SET_BY_PERSON
        else:
            achieved_at = encode_time(now)
    return record._replace(
        status=status,
        achieved_centi=achieved_centi,
        achieved_at=achieved_at,
        set_by_person=True,
        achieved_at_precision=precision,
        revoked_at=None,
        revocation_reason=None,
        # A person's word: reinstated or set achieved, it stands whatever the values say.
        supported=True,
    )


def _revoked_by_person(record: MilestoneRow, update: MilestoneUpdate, now: datetime) -> MilestoneRow:
    """A person's PUT with status `revoked`, or any other PUT of a revoked milestone that does not reinstate it."""
    if record.status == _IN_PROGRESS:
        raise InvalidUpdate(
            "status cannot be revoked: only an achieved milestone can be revoked, and this one is in progress.",
            "status",
        )
    problems = [
        (name, f"{name} cannot be set when revoking a milestone; it keeps the value and date it was achieved with.")
        for name, given in (("achieved_value", update.achieved_value), ("achieved_at", update.achieved_at))
        if given is not None
    ]
    if problems:
        raise InvalidUpdate(" ".join(text for _, text in problems), problems[0][0])
    reason = update.reason
    if reason is None:
        if record.status == _REVOKED:
            return record  # revoked already, and nothing new to say
        raise InvalidUpdate("reason is required to revoke a milestone: say why, in 1 to 500 characters.", "reason")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidUpdate(f"reason must be 1 to {MAX_REASON} characters, not only spaces.", "reason")
    if record.status == _REVOKED:
        # Revoked again: the first time stands, with the newer reason.
        return record if record.revocation_reason == reason else record._replace(revocation_reason=reason)
    return revoked_row(record, reason, encode_time(now))._replace(set_by_person=True)


# If-Match: *, which any current version matches (and no absent milestone: RFC 9110, 13.1.1).
ANY_VERSION = frozenset({"*"})


def require_version(record: MilestoneRow, accepted: frozenset[str] | None) -> None:
    """Refuse a change made against an older version; None (no If-Match) and ANY_VERSION accept any."""
    if accepted is not None and accepted != ANY_VERSION and row_version(record) not in accepted:
        raise PreconditionFailed(record.id)


def absent(milestone_id: str, if_match: frozenset[str] | None) -> MilestonesError:
    """What a change to a milestone that does not exist is refused with: 404, but 412 when the request made
    If-Match its condition, since no current version can match it, not even `*` (RFC 9110, 13.1.1)."""
    if if_match is None:
        return MilestoneNotFound(milestone_id)
    return PreconditionFailed(milestone_id, exists=False)


# --- changes: each write of the service, decided on stored rows ------------------------------------------------


class MentorRows:
    """One mentor's stored rows, to be changed by the rules; `change` then says what differs."""

    def __init__(self, mentor_id: str, periods: Periods, records: Records) -> None:
        self.mentor_id = mentor_id
        self._stored_periods = periods
        self._stored_records = records
        self.periods = dict(periods)
        self.records = records
        # The totals the records were last decided on (None: the stored periods', worked out when asked).
        self._sums: dict[str, int] | None = None

    def detect(self, catalog: RuleCatalog, now: str) -> list[Transition]:
        """Detect on the current periods; the transitions from the records before to those after."""
        before = self.records
        sums = totals(self.periods)
        after = self.records = detect(
            self.mentor_id, self.periods, before, catalog, now, sums=sums, previous=self._sums_before
        )
        self._sums = sums
        return transitions_between(before, after)

    def _sums_before(self) -> dict[str, int]:
        """The totals before the change being decided: what a lost threshold is measured against."""
        if self._sums is None:
            self._sums = totals(self._stored_periods)
        return self._sums

    def add_to(self, change: Change) -> None:
        """Put the rows that differ from the stored ones into `change`: equal rows are not written again,
        so the same summary twice writes nothing."""
        stored_periods, stored_records = self._stored_periods, self._stored_records
        if not stored_periods and not stored_records:  # a new mentor, the first bulk run's common case
            change.periods_written.extend(self.periods.values())
            change.milestones_written.extend(self.records.values())
            return
        change.periods_written.extend(row for span, row in self.periods.items() if stored_periods.get(span) != row)
        change.periods_removed.extend(row for span, row in stored_periods.items() if span not in self.periods)
        change.milestones_written.extend(row for key, row in self.records.items() if stored_records.get(key) != row)
        change.milestones_removed.extend(row.id for key, row in stored_records.items() if key not in self.records)


def transitions_between(before: Records, after: Records) -> list[Transition]:
    """The transitions that take a mentor's records from `before` to `after`, in `after`'s order, then removals."""
    if not before:  # a new mentor, the first bulk run's common case: inline, for a million mentors
        return [
            _make_transition(Transition, (ACHIEVED if row[_STATUS] == _ACHIEVED else CREATED, None, row))
            for row in after.values()
        ]
    found: list[Transition] = []
    for key, row in after.items():
        old = before.get(key)
        # detect keeps the very row object when nothing moved, so identity settles most of them.
        if old is not row and old != row:
            found.append(Transition(transition_kind(old, row), old, row))
    if len(after) != len(before) or found:
        found.extend(Transition(DELETED, row, None) for key, row in before.items() if key not in after)
    return found


_make_transition = tuple.__new__


def by_mentor(stored: StoredRows) -> dict[str, MentorRows]:
    """Stored rows grouped by mentor."""
    periods: dict[str, Periods] = {}
    for period in stored.periods:
        periods.setdefault(period.mentor_id, {})[(period.start_date, period.end_date)] = period
    records: dict[str, Records] = {}
    for record in stored.milestones:
        records.setdefault(record.mentor_id, {})[record.definition_key] = record
    return {
        mentor_id: MentorRows(mentor_id, periods.get(mentor_id, {}), records.get(mentor_id, {}))
        for mentor_id in periods.keys() | records.keys()
    }


def record_summaries(
    lines: list[tuple[int, PeriodRow]],
    stored: StoredRows,
    catalog: RuleCatalog,
    now: str,
    *,
    actor: Actor,
    cause: Cause = Cause.BULK,
    request_id: str | None = None,
    names: dict[str, str] | None = None,
) -> Change:
    """Record each numbered period row and detect its mentor's milestones, line by line as a POST each would.

    A line whose period overlaps a stored one is refused (in `Change.refused`), as POST refuses it, and the
    others go on. `stored` holds the rows of the lines' mentors. `names`: mentors' display names sent with the
    lines (the latest line's for each), written beside them.
    """
    mentors = by_mentor(stored)
    touched: dict[str, MentorRows] = {}
    refused: list[tuple[int, str]] = []
    steps: list[Step] = []
    for number, row in lines:
        mentor_id = row.mentor_id
        mentor = touched.get(mentor_id)
        if mentor is None:
            mentor = touched[mentor_id] = mentors.get(mentor_id) or MentorRows(mentor_id, {}, {})
        try:
            if row.contacts:
                check_contacts_kind(mentor.periods, row)
            record_period(mentor.periods, row)
        except PeriodOverlap as exc:
            refused.append((number, exc.detail))
            continue
        except InvalidUpdate as exc:
            if cause is Cause.POST:
                raise  # a POST's own refusal: 422, and nothing is written
            refused.append((number, exc.detail))
            continue
        # Each line is one step, as if it had been posted on its own.
        transitions = mentor.detect(catalog, now)
        if transitions:
            steps.append(_make_step(Step, (mentor_id, (row.start_date, row.end_date), transitions)))
    change = Change(
        cause,
        actor,
        list(dict.fromkeys(row.mentor_id for _, row in lines)),
        at=now,
        request_id=request_id,
        steps=steps,
        refused=refused,
    )
    change.catalog_version = catalog.version or None
    if cause is Cause.POST and len(lines) == 1:
        change.period = (lines[0][1].start_date, lines[0][1].end_date)
    if names:
        # Only beside a line that was recorded: a refused line stores nothing, its name included.
        refused_lines = {number for number, _ in refused}
        recorded = {row.mentor_id for number, row in lines if number not in refused_lines}
        change.mentors_written.extend(
            MentorRow(mentor_id, name) for mentor_id, name in names.items() if mentor_id in recorded
        )
    for mentor in touched.values():
        mentor.add_to(change)
    return change


def remove_period(
    mentor_id: str,
    start_date: str,
    end_date: str,
    stored: StoredRows,
    catalog: RuleCatalog,
    now: str,
    *,
    actor: Actor,
    request_id: str | None = None,
) -> Change:
    """Drop one stored period and re-evaluate the mentor."""
    mentor = by_mentor(stored).get(mentor_id) or MentorRows(mentor_id, {}, {})
    if mentor.periods.pop((start_date, end_date), None) is None:
        raise PeriodNotFound(f"Mentor {mentor_id!r} has no period {start_date}..{end_date}.")
    transitions = mentor.detect(catalog, now)
    period = (start_date, end_date)
    change = Change(
        Cause.PERIOD_REMOVED,
        actor,
        [mentor_id],
        at=now,
        request_id=request_id,
        catalog_version=catalog.version or None,
        period=period,
    )
    if transitions:
        change.steps.append(Step(mentor_id, period, transitions))
    mentor.add_to(change)
    return change


def update_milestone(
    milestone_id: str,
    update: MilestoneUpdate,
    stored: StoredRows,
    now: datetime,
    *,
    actor: Actor,
    request_id: str | None = None,
    if_match: frozenset[str] | None = None,
) -> Change:
    """Apply a person's update to one milestone; with if_match, only to the version the person saw."""
    record = _stored_milestone(stored, milestone_id, if_match)
    require_version(record, if_match)
    periods = {(p.start_date, p.end_date): p for p in stored.periods if p.mentor_id == record.mentor_id}
    changed = update_record(record, update, now, totals(periods)[record.type])
    change = Change(Cause.PUT, actor, [record.mentor_id], at=encode_time(now), request_id=request_id)
    if changed != record:
        change.milestones_written.append(changed)
        change.steps.append(
            Step(record.mentor_id, None, [Transition(_kind_of_update(record, changed), record, changed)])
        )
    return change


def _kind_of_update(before: MilestoneRow, after: MilestoneRow) -> str:
    if after.status == _REVOKED and before.status != _REVOKED:
        return REVOKED
    if before.status == _REVOKED and after.status != _REVOKED:
        return REINSTATED
    return UPDATED


def revoke_milestone(
    milestone_id: str,
    reason: str,
    stored: StoredRows,
    now: str,
    *,
    actor: Actor,
    cause: Cause = Cause.PUT,
    request_id: str | None = None,
    catalog_version: str | None = None,
) -> Change:
    """Revoke one achieved milestone for `reason` (a re-evaluation's recompute policy, say): its row through
    `revoked_row`, recorded as a `revoked` transition. A milestone in progress, or revoked already, is left as
    it is (the change writes nothing)."""
    record = _stored_milestone(stored, milestone_id, None)
    change = Change(cause, actor, [record.mentor_id], at=now, request_id=request_id, catalog_version=catalog_version)
    if record.status != _ACHIEVED:
        return change
    revoked = revoked_row(record, reason, now)
    change.milestones_written.append(revoked)
    change.steps.append(Step(record.mentor_id, None, [Transition(REVOKED, record, revoked)]))
    return change


def name_mentor(mentor_id: str, display_name: str | None, now: str, *, actor: Actor, request_id: str | None) -> Change:
    """Store (or, with None, clear) the name a mentor's page shows."""
    return Change(
        Cause.MENTOR_UPDATED,
        actor,
        [mentor_id],
        at=now,
        request_id=request_id,
        mentors_written=[MentorRow(mentor_id, display_name)],
    )


def delete_milestone(
    milestone_id: str,
    stored: StoredRows,
    now: datetime,
    *,
    actor: Actor,
    request_id: str | None = None,
    if_match: frozenset[str] | None = None,
) -> Change:
    """Remove one milestone record; a later summary that still earns it creates it again, under the same id."""
    record = _stored_milestone(stored, milestone_id, if_match)
    require_version(record, if_match)
    return Change(
        Cause.DELETE,
        actor,
        [record.mentor_id],
        at=encode_time(now),
        request_id=request_id,
        milestones_removed=[milestone_id],
        steps=[Step(record.mentor_id, None, [Transition(DELETED, record, None)])],
    )


def _stored_milestone(stored: StoredRows, milestone_id: str, if_match: frozenset[str] | None) -> MilestoneRow:
    for record in stored.milestones:
        if record.id == milestone_id:
            return record
    raise absent(milestone_id, if_match)


def milestones_after(stored: StoredRows, change: Change) -> list[MilestoneRow]:
    """The milestone rows of `stored` once `change` is applied, in catalog order (position, then id)."""
    rows = {row.id: row for row in stored.milestones}
    for removed in change.milestones_removed:
        del rows[removed]
    rows.update((row.id, row) for row in change.milestones_written)
    return sorted(rows.values(), key=lambda row: (row.position, row.id))
