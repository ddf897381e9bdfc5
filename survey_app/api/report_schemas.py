"""Marshmallow schemas of the reporting API: query parameters in, documents out (kept apart)."""

from __future__ import annotations

from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from analysis import PROPORTION_METHODS

from ..models import CHANNELS

GROUPS = ("departments", "districts", "communes", "ungrouped")
INCLUDES = ("questions", "breakdowns", "questions,breakdowns", "breakdowns,questions")
MAX_REPORT_DAYS = 3 * 366
#: Dates outside these bounds are refused (and cannot overflow a previous period or a next day).
DATES = validate.Range(date(2000, 1, 1), date(2099, 12, 31))


class PeriodIn(Schema):
    """A period of local dates, both included."""

    class Meta:
        unknown = RAISE

    start = fields.Date(data_key="from", required=True, validate=DATES)
    end = fields.Date(data_key="to", required=True, validate=DATES)

    @validates_schema
    def _order(self, data, **kwargs):
        """The period must not end before it starts nor be longer than three years."""
        if "start" in data and "end" in data:
            if data["end"] < data["start"]:
                raise ValidationError("'to' is before 'from'", "to")
            if (data["end"] - data["start"]).days >= MAX_REPORT_DAYS:
                raise ValidationError(f"a period has at most {MAX_REPORT_DAYS} days", "to")


class SatisfactionQueryIn(PeriodIn):
    """Query of GET /api/v1/reports/satisfaction (and the .xlsx/.csv downloads)."""

    group = fields.String(validate=validate.OneOf(GROUPS), load_default=None)
    office = fields.String(validate=validate.Length(1, 32), load_default=None)
    level = fields.Float(validate=validate.Range(0.5, 0.999), load_default=0.95)
    method = fields.String(validate=validate.OneOf(PROPORTION_METHODS), load_default="wilson")
    compare = fields.String(validate=validate.OneOf(("previous",)), load_default=None)
    include_flagged = fields.Boolean(load_default=False)
    #: Per-question estimates and the service and channel breakdowns only when asked: a year
    #: over 1,000 offices is megabytes of JSON without them.
    include = fields.String(validate=validate.OneOf(INCLUDES), load_default=None)


class ResponsesQueryIn(Schema):
    """Query of GET /api/v1/responses."""

    class Meta:
        unknown = RAISE

    start = fields.Date(data_key="from", load_default=None, validate=DATES)
    end = fields.Date(data_key="to", load_default=None, validate=DATES)
    office = fields.String(validate=validate.Length(1, 32), load_default=None)
    channel = fields.String(validate=validate.OneOf(CHANNELS), load_default=None)
    cursor = fields.String(validate=validate.Length(1, 200), load_default=None)
    limit = fields.Integer(validate=validate.Range(1, 500), load_default=100)


class BandOut(Schema):
    """A value with its interval."""

    value = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)


class EbOut(BandOut):
    """The empirical-Bayes estimate and the weight it puts on the group."""

    shrinkage = fields.Float(allow_none=True)


class ChangeOut(Schema):
    """The change against the previous period of equal length."""

    previous = fields.Float(allow_none=True)
    diff = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    significant = fields.Boolean()
    previous_rank = fields.Integer(allow_none=True)


class EstimateOut(BandOut):
    """One estimate (a share in 0–1) with everything shown beside it."""

    se = fields.Float(allow_none=True)
    n = fields.Integer()
    n_eff = fields.Float()
    df = fields.Integer()
    reliable = fields.Boolean()
    eb = fields.Nested(EbOut)
    mean = fields.Nested(BandOut)
    par_points = fields.Nested(BandOut)
    change = fields.Nested(ChangeOut)
    tier = fields.String(
        validate=validate.OneOf(("above", "indistinguishable", "below", "unreliable")),
        allow_none=True,  # withheld from a scoped caller (disclosure control)
    )
    #: the index and elements only: why the value is blank: no_respondents,
    #: item_without_answers, element_blank, not_in_questionnaire (null when it is not)
    blank_reason = fields.String(allow_none=True)
    #: the items (of an element) or elements (of the index) without answers that blank it
    missing = fields.List(fields.String())
    rank = fields.Integer(allow_none=True)
    #: joint rank interval: all offices' hold together ("who is clearly better than whom")
    rank_low = fields.Integer(allow_none=True)
    rank_high = fields.Integer(allow_none=True)
    #: individual rank interval: this office's rank alone ("where does my office stand")
    individual_rank_low = fields.Integer(allow_none=True)
    individual_rank_high = fields.Integer(allow_none=True)
    group_size = fields.Integer(allow_none=True)


class SmsOut(Schema):
    """SMS invitations sent in the period and SMS responses received in it."""

    sent = fields.Integer()
    answered = fields.Integer()
    response_rate = fields.Float(allow_none=True)


class UnitReportOut(Schema):
    """What is reported for an office or a group."""

    dossiers = fields.Integer()
    responses = fields.Integer()
    responses_by_channel = fields.Dict(keys=fields.String(), values=fields.Integer())
    index = fields.Nested(EstimateOut)
    elements = fields.Dict(keys=fields.String(), values=fields.Nested(EstimateOut))
    overall_question = fields.Nested(EstimateOut, allow_none=True)
    #: Per question (always in the API's report; `include=questions` is accepted for clarity).
    questions = fields.Dict(keys=fields.String(), values=fields.Nested(EstimateOut))
    dissatisfied = fields.Integer()
    complaint_free_ratio = fields.Float(allow_none=True)
    sms = fields.Nested(SmsOut)
    #: "reply" and "link": invitations sent in the period in that SMS mode and those answered
    sms_by_mode = fields.Dict(keys=fields.String(), values=fields.Nested(SmsOut))


class OfficeReportOut(UnitReportOut):
    """An office's report."""

    code = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    kind = fields.String()
    group = fields.String()
    parent_code = fields.String(allow_none=True)


class GroupReportOut(UnitReportOut):
    """A ranking group's totals; for a scoped caller only its benchmark (value and interval of
    its index, elements and overall question), or null where withheld."""

    group = fields.String()
    offices = fields.Integer()
    index = fields.Nested(EstimateOut, allow_none=True)
    elements = fields.Dict(keys=fields.String(), values=fields.Nested(EstimateOut, allow_none=True))
    benchmark = fields.String(validate=validate.OneOf(("given", "withheld")))
    reason = fields.String(allow_none=True)


class DisclosureOut(Schema):
    """Present for a scoped caller: the rule that withheld comparisons (null values)."""

    scoped = fields.Boolean()
    min_outside_offices = fields.Integer()
    rule = fields.Dict(keys=fields.String(), values=fields.String())


class PeriodOut(Schema):
    """A period of local dates."""

    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    days = fields.Integer()
    timezone = fields.String()


class QuestionOut(Schema):
    """A question of the report."""

    code = fields.String()
    dimension = fields.String()
    kind = fields.String()
    text_vi = fields.String()
    text_en = fields.String()


class SatisfactionReportOut(Schema):
    """GET /api/v1/reports/satisfaction."""

    period = fields.Nested(PeriodOut)
    previous_period = fields.Nested(PeriodOut, allow_none=True)
    parameters = fields.Dict()
    elements = fields.List(fields.String())
    questions = fields.List(fields.Nested(QuestionOut))
    offices = fields.List(fields.Nested(OfficeReportOut))
    groups = fields.List(fields.Nested(GroupReportOut))
    #: per measure and ranking group, the EB prior: {mean, sd, bounded} (bounded: the offices
    #: differ so much that the spread leans on its bound 0.5), null where none was fitted
    eb_priors = fields.Dict()
    breakdowns = fields.Dict()
    disclosure = fields.Nested(DisclosureOut)


class OfficeOut(Schema):
    """An office in the hierarchy."""

    code = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    kind = fields.String()
    group = fields.String(allow_none=True)
    parent_code = fields.String(allow_none=True)
    is_active = fields.Boolean()
    depth = fields.Integer()


class ResponseOut(Schema):
    """A response with its answers by question code; never a phone number or a device hash."""

    #: A keyed hash of the response's database id: stable, but counts nothing.
    id = fields.String()
    office_code = fields.String()
    counter_code = fields.String(allow_none=True)
    service_code = fields.String(allow_none=True)
    channel = fields.String()
    submitted_at = fields.String()
    language = fields.String()
    integrity = fields.String()
    is_partial = fields.Boolean()
    has_dossier = fields.Boolean()
    dossier_binding = fields.String(allow_none=True)  # "verified", "claimed" or null
    answers = fields.Dict(keys=fields.String(), values=fields.Integer())
    comment = fields.String(allow_none=True)


class ResponsePageOut(Schema):
    """A page of responses and the cursor of the next one."""

    responses = fields.List(fields.Nested(ResponseOut))
    next_cursor = fields.String(allow_none=True)


class ChoiceOut(Schema):
    """A question of the current questionnaire."""

    code = fields.String()
    dimension = fields.String()
    kind = fields.String()
    position = fields.Integer()
    required = fields.Boolean()
    text = fields.Dict(keys=fields.String(), values=fields.String())
    values = fields.List(fields.Integer())


class QuestionnaireOut(Schema):
    """GET /api/v1/questionnaires/current."""

    version = fields.Integer()
    name = fields.String()
    questions = fields.List(fields.Nested(ChoiceOut))


class ErrorOut(Schema):
    """Every error: a code, a message and details."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()
