"""Kafka topic names (DESIGN §2), in one place so producers and consumers cannot drift apart."""

DIRECTORY = "onramp.directory"
TRAINING = "onramp.training"
FEEDBACK_INTAKE = "onramp.feedback.intake"
FEEDBACK = "onramp.feedback"
ROLLOUT = "onramp.rollout"
NOTIFY = "onramp.notify"

ALL_TOPICS: tuple[str, ...] = (DIRECTORY, TRAINING, FEEDBACK_INTAKE, FEEDBACK, ROLLOUT, NOTIFY)


def dlt(topic: str) -> str:
    """The dead-letter topic of ``topic``, where its consumers park records they cannot apply."""
    return f"{topic}.dlt"


DLT_TOPICS: tuple[str, ...] = tuple(dlt(topic) for topic in ALL_TOPICS)
