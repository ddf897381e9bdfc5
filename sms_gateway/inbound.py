"""Replies and delivery receipts from the provider: opt-outs, the conversation's answers saved as
they come (a partial response until the rating questions are done), delivery statuses, expiry.
Functions flush; the webhook commits once per request."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from survey_app.extensions import db
from survey_app.models import (
    Answer,
    Channel,
    Conversation,
    ConversationStatus,
    Invitation,
    InvitationStatus,
    QuestionKind,
    Questionnaire,
    Response,
    ResponseKey,
    SmsMessage,
    SmsMode,
    utcnow,
)
from survey_app.protection import normalize_phone, phone_hash
from survey_app.services.opt_outs import set_opt_out
from survey_app.services.questionnaires import current_questionnaire, ensure_default_questionnaire
from survey_app.services.rating_links import SMS, rating_url

from .conversation import SmsQuestion, advance
from .replies import MAX_COMMENT, Keyword, keyword
from .texts import text

S = InvitationStatus
_REPLYABLE = {S.SENDING, S.SENT, S.DELIVERED, S.FAILED, S.ANSWERED}


class Duplicate(Exception):
    """This MessageSid was processed already."""


def sms_questions(questionnaire: Questionnaire) -> list[SmsQuestion]:
    """Overall first, then the configured follow-ups that the questionnaire has."""
    codes = ["overall"] + [c.strip() for c in current_app.config["SMS_QUESTIONS"] if c.strip()]
    questions = []
    for code in dict.fromkeys(codes):
        question = questionnaire.question(code)
        if question is not None:
            questions.append(SmsQuestion(code, QuestionKind(question.kind), question.text_vi))
    return questions


def _latest_invitation(hash_: str) -> Invitation | None:
    return db.session.scalar(
        select(Invitation)
        .where(Invitation.phone_hash == hash_, Invitation.status != S.QUEUED)
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(1)
    )


def _remember(message_sid: str, hash_: str | None) -> SmsMessage:
    """Store the MessageSid, or raise Duplicate if it was processed already."""
    if db.session.scalar(select(SmsMessage.id).where(SmsMessage.message_sid == message_sid)):
        raise Duplicate(message_sid)
    message = SmsMessage(message_sid=message_sid, direction="in", phone_hash=hash_)
    db.session.add(message)
    db.session.flush()  # a concurrent duplicate waits here on the unique index, then fails
    return message


def _response(conversation: Conversation, invitation: Invitation, now: datetime):
    if conversation.response_id:
        return db.session.get(Response, conversation.response_id)
    dossier = invitation.dossier
    if db.session.scalar(
        select(ResponseKey.response_id).where(ResponseKey.dossier_id == dossier.id)
    ):
        return None  # rated meanwhile (QR form with the dossier code): one response per dossier
    response = Response(
        office_id=dossier.office_id,
        service_id=dossier.service_id,
        dossier_id=dossier.id,
        questionnaire=current_questionnaire() or ensure_default_questionnaire(),
        channel=Channel.SMS,
        language=conversation.language,
        client_hash=conversation.phone_hash,
        is_partial=True,
        submitted_at=now,
    )
    db.session.add(response)
    db.session.flush()
    # a partitioned table is referred to by its whole key: the id and the month's timestamp
    conversation.response_id = response.id
    conversation.response_submitted_at = response.submitted_at
    return response


def _add_text(response: Response, question_id: int, words: str) -> None:
    """Add words to the response's answer to a text question (one answer per question)."""
    answer = next((a for a in response.answers if a.question_id == question_id), None)
    if answer is None:
        response.answers.append(Answer(question_id=question_id, text=words[:MAX_COMMENT]))
    elif words not in (answer.text or ""):
        answer.text = "\n".join(filter(None, (answer.text, words)))[:MAX_COMMENT]


def _keep_comment(response: Response, words: str) -> None:
    """Keep the words of a reply not understood as the comment (the first text question)."""
    question = next(
        (q for q in response.questionnaire.questions if q.kind == QuestionKind.TEXT), None
    )
    if question is not None:
        _add_text(response, question.id, words)


def _save_answer(response: Response, questions: list[SmsQuestion], answer) -> None:
    code, value, comment = answer
    question = response.questionnaire.question(code)
    if comment is not None:
        _add_text(response, question.id, comment)
    else:
        response.answers.append(Answer(question_id=question.id, value=value))
    answered = {a.question_id for a in response.answers if a.value is not None}
    rated = [
        response.questionnaire.question(q.code).id for q in questions if q.kind != QuestionKind.TEXT
    ]
    response.is_partial = not all(qid in answered for qid in rated)


def handle_inbound(sender: str, body: str, message_sid: str, now: datetime | None = None):
    """Process one incoming SMS; the reply text. Raises Duplicate for a MessageSid processed
    already, before anything else. Flushes."""
    now = now or utcnow()
    config = current_app.config
    e164, _status = normalize_phone(sender, config["PHONE_DEFAULT_REGION"])
    hash_ = phone_hash(e164) if e164 else None
    invitation = _latest_invitation(hash_) if hash_ else None
    language = invitation.language if invitation else config["SMS_LANGUAGE"]
    command = keyword(body)
    # A MessageSid seen before is dropped first, whatever the branches below would answer: a
    # re-delivery must never get a TwiML <Message>, which Twilio would send as one more SMS.
    # The number's hash is kept only for someone we texted or who opts out or back in.
    known = invitation is not None or command in (Keyword.STOP, Keyword.START)
    message = _remember(message_sid, hash_ if known else None)
    in_link_mode = (invitation.mode if invitation else config["SMS_MODE"]) == SmsMode.LINK
    if command == Keyword.HELP:
        return text("help_link" if in_link_mode else "help", language)
    if command in (Keyword.STOP, Keyword.START) and hash_:
        set_opt_out(hash_, command == Keyword.STOP, "keyword", now)
        if command == Keyword.STOP and invitation is not None:
            if invitation.status != S.ANSWERED:  # an answered one stays answered (its mode's
                invitation.move_to(S.OPTED_OUT)  # response rate); the OptOut row stops texts
            conversation = _conversation_of(invitation)
            if conversation is not None and conversation.status == ConversationStatus.ACTIVE:
                conversation.status = ConversationStatus.ENDED
        return text(command.value, language)
    if invitation is None or invitation.status not in _REPLYABLE:
        return text("unknown" if invitation is None else "expired", language)
    if in_link_mode:
        return _link_reply(invitation, language, now)
    conversation = _conversation_of(invitation)
    if conversation is not None and conversation.status != ConversationStatus.ACTIVE:
        return text(
            "expired" if conversation.status == ConversationStatus.EXPIRED else "done", language
        )
    hours = timedelta(hours=config["SMS_CONVERSATION_HOURS"])
    started = invitation.sent_at or invitation.claimed_at or invitation.created_at
    if now >= (conversation.expires_at if conversation else started + hours):
        return text("expired", language)  # stores nothing; the worker's sweep marks it expired
    if conversation is None:
        conversation = Conversation(
            invitation=invitation,
            phone_hash=hash_,
            language=language,
            expires_at=started + hours,
            step=0,
            retries=0,
        )
        db.session.add(conversation)
    message.conversation = conversation
    started_response = (
        db.session.get(Response, conversation.response_id) if conversation.response_id else None
    )
    questionnaire = (
        started_response.questionnaire
        if started_response
        else (current_questionnaire() or ensure_default_questionnaire())
    )
    questions = sms_questions(questionnaire)
    turn = advance(questions, conversation.step, conversation.retries, body, language)
    if turn.answer is not None or turn.comment:
        response = _response(conversation, invitation, now)
        if response is None:
            conversation.status = ConversationStatus.ENDED
            return text("done", language)
        if turn.answer is not None:
            _save_answer(response, questions, turn.answer)
        if turn.comment:
            _keep_comment(response, turn.comment)
        invitation.move_to(S.ANSWERED)
    conversation.step, conversation.retries, conversation.status = (
        turn.step,
        turn.retries,
        turn.status,
    )
    db.session.flush()
    return turn.reply


def _link_reply(invitation: Invitation, language: str, now: datetime) -> str:
    """A reply to a link-mode invitation starts no conversation: the citizen is thanked and
    given the link again while it is open (the rating is given on the web form)."""
    if invitation.status == S.ANSWERED:
        return text("done", language)
    hours = timedelta(hours=current_app.config["SMS_CONVERSATION_HOURS"])
    if now >= (invitation.sent_at or invitation.claimed_at or invitation.created_at) + hours:
        return text("expired", language)
    return text("link_reply", language, link=rating_url(invitation.dossier_id, SMS))


def _conversation_of(invitation: Invitation) -> Conversation | None:
    return db.session.scalar(
        select(Conversation).where(Conversation.invitation_id == invitation.id)
    )


def handle_status(
    invitation_ref: str | None,
    message_sid: str,
    status: str,
    error_code: str | None,
    now: datetime | None = None,
) -> bool:
    """Record a delivery receipt; 21610 becomes an opt-out. Whether the message was known."""
    now = now or utcnow()
    invitation = None
    if invitation_ref and invitation_ref.isdigit():
        invitation = db.session.get(Invitation, int(invitation_ref))
    if invitation is None:
        invitation = db.session.scalar(
            select(Invitation).where(Invitation.provider_message_id == message_sid)
        )
    if invitation is None:
        return False
    if invitation.provider_message_id not in (None, message_sid):
        return False  # a receipt for another message than the one we recorded
    invitation.provider_message_id = message_sid
    if status in ("accepted", "scheduled", "queued", "sending", "sent"):
        invitation.move_to(S.SENT)
        invitation.sent_at = invitation.sent_at or now
    elif status in ("delivered", "read"):
        invitation.move_to(S.DELIVERED)
        invitation.delivered_at = invitation.delivered_at or now
    elif status in ("undelivered", "failed"):
        invitation.error_code = error_code or status
        if error_code == "21610":
            set_opt_out(invitation.phone_hash, True, "provider_21610", now)
            invitation.move_to(S.OPTED_OUT)
        elif invitation.status != S.ANSWERED:
            invitation.move_to(S.FAILED)
    db.session.flush()
    return True


def expire_stale(now: datetime | None = None) -> None:
    """Expire active conversations and unanswered invitations past their time; flush."""
    now = now or utcnow()
    hours = timedelta(hours=current_app.config["SMS_CONVERSATION_HOURS"])
    db.session.execute(
        update(Conversation)
        .where(Conversation.status == ConversationStatus.ACTIVE, Conversation.expires_at <= now)
        .values(status=ConversationStatus.EXPIRED),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(
        update(Invitation)
        .where(Invitation.status.in_([S.SENT, S.DELIVERED]), Invitation.sent_at <= now - hours)
        .values(status=S.EXPIRED),
        execution_options={"synchronize_session": False},
    )
