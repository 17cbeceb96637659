"""All SQL of the feedback service, by feature; import it as one module (``repository.x``)."""

from services.feedback.repository.feedback import (
    Filters,
    Period,
    Position,
    Row,
    Submission,
    SubmissionContext,
    case_of,
    get_feedback,
    insert_feedback,
    list_feedback,
    newest_answers,
    save_case,
    submission_context,
    submit,
)
from services.feedback.repository.projections import (
    record_department,
    record_person,
    remember_rollout,
    rollout,
)
from services.feedback.repository.summary import (
    comment_counts,
    department_names,
    issues,
    read_one_snapshot,
    survey_answers,
)

__all__ = [
    "Filters",
    "Period",
    "Position",
    "Row",
    "Submission",
    "SubmissionContext",
    "case_of",
    "comment_counts",
    "department_names",
    "get_feedback",
    "insert_feedback",
    "issues",
    "list_feedback",
    "newest_answers",
    "read_one_snapshot",
    "record_department",
    "record_person",
    "remember_rollout",
    "rollout",
    "save_case",
    "submission_context",
    "submit",
    "survey_answers",
]
