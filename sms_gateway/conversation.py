"""The SMS conversation as a state machine over plain values (no I/O).

    step k: the question k was asked ──valid reply──▶ step k+1 (answer saved) ─┐
       │                                                     last question ◀────┘──▶ completed
       └─unparseable──▶ asked again once (retries=1) ──unparseable again──▶ step k+1 (skipped)

A reply the parser cannot read never ends the conversation: the question is asked again once,
then the next one is asked. Its words are kept as the citizen's comment either way (a citizen
who writes a sentence instead of a digit has said something worth reading).

The invitation asks question 0 (overall); follow-ups are asked one at a time in the reply.
Ratings are 1-5; yes/no questions store 1 (yes) or 0 (no); a text question takes any reply, and
"khong"/"no" skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

from survey_app.models import ConversationStatus, QuestionKind

from .replies import free_text, parse_comment, parse_rating, parse_yes_no
from .texts import question_text, text


@dataclass(frozen=True)
class SmsQuestion:
    """One question asked by SMS: its questionnaire code, kind and fallback text."""

    code: str
    kind: QuestionKind
    fallback: str | None = None


@dataclass(frozen=True)
class Turn:
    """The result of one reply: the text to answer with, the new state, and the answer if any."""

    reply: str
    status: ConversationStatus
    step: int
    retries: int
    answer: tuple[str, int | None, str | None] | None = None  # (code, value, text)
    comment: str | None = None  # the words of a reply not understood, kept as the comment


def parse_answer(question: SmsQuestion, body: str) -> tuple[bool, int | None, str | None]:
    """(understood, value, text) of a reply to a question of this kind."""
    if question.kind == QuestionKind.TEXT:
        understood, comment = parse_comment(body)
        return understood, None, comment
    if question.kind == QuestionKind.YES_NO:
        value = parse_yes_no(body)
    else:
        value = parse_rating(body)
    return value is not None, value, None


def ask(question: SmsQuestion, language: str) -> str:
    """The text asking a question."""
    return question_text(question.code, language, question.fallback)


def advance(
    questions: list[SmsQuestion], step: int, retries: int, body: str, language: str
) -> Turn:
    """Apply one reply to the conversation at `step`; never raises on any text."""
    if step >= len(questions):
        return Turn(text("done", language), ConversationStatus.COMPLETED, step, retries)
    question = questions[step]
    understood, value, comment = parse_answer(question, body)
    if not understood:
        kept = free_text(body)
        if retries == 0:
            reply = text("retry", language, question=ask(question, language))
            return Turn(reply, ConversationStatus.ACTIVE, step, 1, comment=kept)
        step += 1  # asked twice: move on
        if step >= len(questions):
            return Turn(text("thanks", language), ConversationStatus.COMPLETED, step, 0, None, kept)
        reply = text("move_on", language, question=ask(questions[step], language))
        return Turn(reply, ConversationStatus.ACTIVE, step, 0, comment=kept)
    answer = (question.code, value, comment) if (value is not None or comment) else None
    step += 1
    if step >= len(questions):
        return Turn(text("thanks", language), ConversationStatus.COMPLETED, step, 0, answer)
    return Turn(ask(questions[step], language), ConversationStatus.ACTIVE, step, 0, answer)
